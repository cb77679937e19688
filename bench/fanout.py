"""Fan-out of N items over a child workflow: wall time, peak RSS and RSS per item.

python bench/fanout.py [--items 1000] [--max-concurrent 50] [--command]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAIT = ROOT / ".venv" / "bin" / "plait"


def workflow(items: int, max_concurrent: int, command: bool) -> str:
    values = json.dumps([f"item-{i}" for i in range(items)])
    if command:
        return (
            "name: fanout\nsteps:\n  - name: fan\n    command: echo ${ITEM}\n"
            f"    parallel:\n      items: {values}\n      maxConcurrent: {max_concurrent}\n"
        )
    return (
        "name: fanout\nsteps:\n  - name: fan\n    run: item\n"
        f"    parallel:\n      items: {values}\n      maxConcurrent: {max_concurrent}\n"
        '    params: "X=${ITEM}"\n    output: RESULTS\n'
        "---\nname: item\nparams:\n  - X: ''\nsteps:\n"
        "  - name: work\n    command: echo ${X}\n    output: OUT\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--max-concurrent", type=int, default=50)
    parser.add_argument("--command", action="store_true", help="fan out a command, not a child")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
        path = Path(tmp) / "fanout.yaml"
        path.write_text(workflow(args.items, args.max_concurrent, args.command))
        env = dict(os.environ, PLAIT_HOME=str(Path(tmp) / "home"))
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(PLAIT), "start", "-q", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        assert process.stderr is not None
        error = process.stderr.read().decode()
    code = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024
    kind = "command" if args.command else "child workflow"
    print(f"fan-out of {args.items} items ({kind}), maxConcurrent {args.max_concurrent}")
    print(
        f"exit {code}  wall {wall:.2f}s  peak RSS {rss_mb:.1f} MB  "
        f"RSS per item {rss_mb * 1024 / args.items:.1f} KB  "
        f"{args.items / wall:.0f} items/s"
    )
    if code != 0:
        print(error, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
