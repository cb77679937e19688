"""Big run-time values reaching shell commands: wall time and peak RSS of the agent.

- ``fanout``: 500 child runs each with a 20 KB output, then a ``command:`` step that reads
  ``${RESULTS.outputs}`` (10 MB of JSON) — the reference fails this with "argument list too
  long".
- ``twenty``: one step outputs 20 MB; a ``command:`` step and a ``script:`` step read it.
- ``secrets``: the ``fanout`` workload with a secret to mask in every log.

python bench/big_values.py [--children 500] [--size 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAIT = ROOT / ".venv" / "bin" / "plait"


def fanout(children: int, size: int, secret: bool) -> str:
    secrets = (
        "secrets:\n  - name: API_TOKEN\n    provider: env\n    key: BENCH_TOKEN\n" if secret else ""
    )
    return (
        f"name: big-fan\n{secrets}steps:\n"
        f"  - name: list\n    command: seq 1 {children}\n    output: ITEMS\n"
        "  - name: map\n    run: item\n    parallel:\n      items: ${ITEMS}\n"
        "      maxConcurrent: 20\n    params: N=${ITEM}\n    output: RESULTS\n"
        "  - name: reduce\n    command: printf '%s' \"${RESULTS.outputs}\" | wc -c\n"
        "---\nname: item\nparams:\n  - N: '0'\nsteps:\n"
        f"  - name: emit\n    command: head -c {size} /dev/zero | tr '\\0' v\n    output: OUT\n"
    )


def twenty(size: int) -> str:
    return (
        f"name: twenty\nmaxOutputSize: {size + 1024}\nsteps:\n"
        f"  - name: make\n    command: head -c {size} /dev/zero | tr '\\0' x\n    output: BIG\n"
        "  - name: command\n    command: printf '%s' \"${BIG}\" | wc -c\n"
        "  - name: script\n    script: |\n      printf '%s' \"${BIG}\" | wc -c\n"
    )


def run_once(text: str) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
        path = Path(tmp) / "wf.yaml"
        path.write_text(text)
        env = dict(os.environ, PLAIT_HOME=str(Path(tmp) / "home"), BENCH_TOKEN="s3cr3t-b3nch")
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(PLAIT), "start", "-q", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        return time.perf_counter() - started, usage.ru_maxrss / 1024, status


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=500)
    parser.add_argument("--size", type=int, default=20_000, help="bytes of each child's output")
    parser.add_argument("--big", type=int, default=20 * 1024 * 1024, help="bytes of `twenty`")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workloads = {
        f"fanout {args.children} x {args.size} B": fanout(args.children, args.size, False),
        f"fanout {args.children} x {args.size} B, masked": fanout(args.children, args.size, True),
        f"twenty: one value of {args.big} B": twenty(args.big),
    }
    failed = 0
    for name, text in workloads.items():
        walls, peaks = [], []
        for _ in range(args.runs):
            wall, rss, status = run_once(text)
            failed += status != 0
            walls.append(wall)
            peaks.append(rss)
        print(
            f"{name:42} wall {statistics.median(walls):6.2f}s  "
            f"peak RSS {max(peaks):6.1f} MB  exits {'ok' if not failed else 'FAILED'}",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
