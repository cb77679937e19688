"""Fan-out of N items over a child workflow: wall time, peak RSS and RSS per item.

python bench/fanout.py [--items 1000] [--max-concurrent 50] [--command] [--from-file]
                      [--consume] [--smoke]

``--from-file``: the items are read from a file, one a line (``items: {file: PATH}``), as the
fan-out goes, instead of a list in the workflow.
After the run, the deletion that history retention does for it (the run's tree in the store
and its log folder) is timed too.
``--consume``: a step after the fan-out reads ``${RESULTS.outputs}`` (every item's outputs,
as one JSON array) and paths into the result; its peak RSS counts with the rest.
``--smoke``: 10 items, 5 at a time, over the child workflow, as a command, and from a file;
exits non-zero when a run fails.
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


CONSUME = """  - name: use
    depends: fan
    script: |
      printf '%s' "${RESULTS.outputs}" | wc -c
      printf '%s\\n' "${RESULTS.summary.total}" "${RESULTS.outputs[-1]}"
    output: USED
"""


def workflow(
    items: int, max_concurrent: int, command: bool, from_file: bool = False, consume: bool = False
) -> str:
    values = "{file: items.txt}" if from_file else json.dumps([f"item-{i}" for i in range(items)])
    after = CONSUME if consume else ""
    if command:
        return (
            "name: fanout\nsteps:\n  - name: fan\n    command: echo ${ITEM}\n"
            f"    parallel:\n      items: {values}\n      maxConcurrent: {max_concurrent}\n"
            + ("    output: RESULTS\n" + after if consume else "")
        )
    return (
        "name: fanout\nsteps:\n  - name: fan\n    run: item\n"
        f"    parallel:\n      items: {values}\n      maxConcurrent: {max_concurrent}\n"
        '    params: "X=${ITEM}"\n    output: RESULTS\n'
        + after
        + "---\nname: item\nparams:\n  - X: ''\nsteps:\n"
        "  - name: work\n    command: echo ${X}\n    output: OUT\n"
    )


def fan_out(
    items: int, max_concurrent: int, command: bool, from_file: bool = False, consume: bool = False
) -> int:
    """One fan-out through ``plait start``: prints its figures, returns plait's exit code."""
    with tempfile.TemporaryDirectory(prefix="plait-bench-") as tmp:
        path = Path(tmp) / "fanout.yaml"
        path.write_text(workflow(items, max_concurrent, command, from_file, consume))
        if from_file:
            (Path(tmp) / "items.txt").write_text("".join(f"item-{i}\n" for i in range(items)))
        env = dict(os.environ, PLAIT_HOME=str(Path(tmp) / "home"))
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(PLAIT), "start", "-q", str(path)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        error = process.stderr.read().decode()  # before waiting: a full pipe would block it
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        files, size = _home_usage(Path(tmp) / "home")
        deletion = _retention(env) if os.waitstatus_to_exitcode(status) == 0 else ""
    code = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024
    kind = ("command" if command else "child workflow") + (", from a file" if from_file else "")
    kind += ", a step reading its outputs after it" if consume else ""
    print(f"fan-out of {items} items ({kind}), maxConcurrent {max_concurrent}")
    print(
        f"exit {code}  wall {wall:.2f}s  peak RSS {rss_mb:.1f} MB  "
        f"RSS per item {rss_mb * 1024 / items:.1f} KB  "
        f"{items / wall:.0f} items/s",
        flush=True,
    )
    print(f"home: {files} files, {size / 1e6:.1f} MB; {deletion}", flush=True)
    if code != 0:
        print(error, file=sys.stderr)
    return code


_RETENTION = """
import os, shutil, sys, time
from plait.app import open_store
from plait.store.home import Home
store = open_store(Home.from_env(), existing=True)
root = store.list_runs("fanout", limit=1, roots_only=True)[0].run_id
started = time.perf_counter()
dirs = store.delete_run_tree(root)
stored = time.perf_counter() - started
for folder in set(dirs):
    if os.path.basename(os.path.normpath(folder)) == root:
        shutil.rmtree(folder, ignore_errors=True)
print(f"retention deletes it in {time.perf_counter() - started:.2f}s (store {stored:.2f}s)")
"""


def _retention(env: dict[str, str]) -> str:
    """How long history retention takes to delete the run: its tree in the store, its logs."""
    done = subprocess.run(
        [str(PLAIT.parent / "python"), "-c", _RETENTION],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or f"retention failed: {done.stderr.strip()[-300:]}"


def _home_usage(home: Path) -> tuple[int, int]:
    """How many files the run left in the home, and their size on disk."""
    files = size = 0
    for path in home.rglob("*"):
        if path.is_file():
            files += 1
            size += path.stat().st_blocks * 512
    return files, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--max-concurrent", type=int, default=50)
    parser.add_argument("--command", action="store_true", help="fan out a command, not a child")
    parser.add_argument("--from-file", action="store_true", help="items read from a file")
    parser.add_argument("--consume", action="store_true", help="a step reads the outputs after")
    parser.add_argument("--smoke", action="store_true", help="a tiny run of the same path")
    args = parser.parse_args()
    if args.smoke:
        codes = [fan_out(10, 5, False), fan_out(10, 5, True), fan_out(10, 5, True, True, True)]
        return next((code for code in codes if code != 0), 0)
    return fan_out(args.items, args.max_concurrent, args.command, args.from_file, args.consume)


if __name__ == "__main__":
    sys.exit(main())
