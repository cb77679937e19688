"""Big run-time values reaching shell commands: wall time and peak RSS of the agent.

- ``fanout``: 500 child runs each with a 20 KB output, then a ``command:`` step that reads
  ``${RESULTS.outputs}`` (10 MB of JSON) — the reference fails this with "argument list too
  long".
- ``twenty``: one step outputs 20 MB; a ``command:`` step and a ``script:`` step read it.
- ``secrets``: the ``fanout`` workload with a secret to mask in every log.
- ``outputs``: 20 steps at once, each capturing an output of 200 KB (``--each``).

python bench/big_values.py [--children 500] [--size 20000] [--big 20971520] [--runs 3] [--smoke]

``--smoke``: the three workloads once each with 5 children of 1 KB and a 100 KB value; exits
non-zero when a run fails (its stderr is printed).
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


def outputs(count: int, size: int) -> str:
    steps = "".join(
        f"  - name: s{i}\n    command: head -c {size} /dev/zero | tr '\\0' o\n    output: O{i}\n"
        for i in range(count)
    )
    return f"name: outputs\ntype: graph\nmaxActiveSteps: {count}\nsteps:\n{steps}"


def run_once(text: str) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MB, exit code, the end of stderr) of one ``plait start``."""
    with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
        path = Path(tmp) / "wf.yaml"
        path.write_text(text)
        env = dict(os.environ, PLAIT_HOME=str(Path(tmp) / "home"), BENCH_TOKEN="s3cr3t-b3nch")
        with open(Path(tmp) / "stderr", "w+b") as err:
            started = time.perf_counter()
            process = subprocess.Popen(
                [str(PLAIT), "start", "-q", str(path)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            err.seek(0)
            error = err.read()[-2000:].decode(errors="replace")
        return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=500)
    parser.add_argument("--size", type=int, default=20_000, help="bytes of each child's output")
    parser.add_argument("--big", type=int, default=20 * 1024 * 1024, help="bytes of `twenty`")
    parser.add_argument("--each", type=int, default=200_000, help="bytes of each of 20 outputs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny run of the same path")
    args = parser.parse_args()
    if args.smoke:
        args.children, args.size, args.big, args.runs, args.each = 5, 1000, 100_000, 1, 1000
    workloads = {
        f"fanout {args.children} x {args.size} B": fanout(args.children, args.size, False),
        f"fanout {args.children} x {args.size} B, masked": fanout(args.children, args.size, True),
        f"twenty: one value of {args.big} B": twenty(args.big),
        f"outputs: 20 steps x {args.each} B": outputs(20, args.each),
    }
    failed = 0
    for name, text in workloads.items():
        walls, peaks, codes = [], [], []
        for _ in range(args.runs):
            wall, rss, code, error = run_once(text)
            if code != 0:
                print(f"{name}: plait exited {code}\n{error}", file=sys.stderr)
            codes.append(code)
            walls.append(wall)
            peaks.append(rss)
        bad = sum(code != 0 for code in codes)
        failed += bad
        print(
            f"{name:42} wall {statistics.median(walls):6.2f}s  "
            f"peak RSS {max(peaks):6.1f} MB  exits {'ok' if not bad else 'FAILED'}",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
