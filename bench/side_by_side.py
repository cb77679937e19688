"""Runs the common yardstick (../shared/bench/run.py) with this checkout's plait.

python bench/side_by_side.py [--only one,forkjoin] [--runs 5] [--timeout 120] [--smoke]

With the reference engine's binary (Dagu: ``$DAGU_BIN``, else the path run.py installs it to)
this is run.py itself, each workload run by both engines in turn; its output is passed
through, and the exit is non-zero when a plait run failed. Without the binary the reference
is skipped, with a message, and plait alone is timed with run.py's own ``run_once`` on the
same workloads (run.py would otherwise install Dagu with npm).

``--smoke``: plait alone, every workload once after a warm-up; exits non-zero when a run
fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
RUN_PY = ROOT.parent / "shared" / "bench" / "run.py"
PLAIT = ROOT / ".venv" / "bin" / "plait"


def load_run_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shared_bench_run", RUN_PY)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {RUN_PY}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_reference(argv: list[str]) -> int:
    """run.py as is; non-zero when it fails or reports a failed plait run."""
    process = subprocess.Popen(
        [sys.executable, str(RUN_PY), "--cmd", str(PLAIT), *argv],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    failed = False
    for line in process.stdout:
        print(line, end="", flush=True)
        failed = failed or (line.startswith("ratio ") and "(FAILED)" in line)
    code = process.wait()
    return code or int(failed)


def plait_alone(run: ModuleType, only: str, runs: int, timeout: float) -> int:
    """Each workload of run.py's folder: a warm-up, then ``runs`` runs of plait alone."""
    names = sorted(p.stem for p in Path(run.WORKLOADS).glob("*.yaml"))
    if only:
        names = [n for n in names if n in only.split(",")]
    if not names:
        raise SystemExit(f"no workloads in {run.WORKLOADS} match {only!r}")
    failed = 0
    for name in names:
        with tempfile.TemporaryDirectory(prefix="bench-wl-") as tmp:
            cwd = Path(tmp)
            shutil.copy(Path(run.WORKLOADS) / f"{name}.yaml", cwd / f"{name}.yaml")
            argv = [str(PLAIT), "start", f"{name}.yaml"]
            rows = [run.run_once(argv, "PLAIT_HOME", cwd, timeout) for _ in range(runs + 1)]
        timed = rows[1:]
        exits = sorted({r[1] for r in rows})
        failed += any(r[1] != 0 for r in rows)
        print(
            f"{name:10s} plait median {statistics.median(r[0] for r in timed):7.3f}s "
            f"rss {statistics.median(r[2] for r in timed) / 1024:6.1f}MB exits {exits}",
            flush=True,
        )
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--smoke", action="store_true", help="plait alone, each workload once")
    args, rest = parser.parse_known_args()
    if not RUN_PY.is_file():
        print(f"the yardstick {RUN_PY} is missing", file=sys.stderr)
        return 2
    run = load_run_py()
    if args.smoke:
        print("reference (dagu): skipped in --smoke")
        return plait_alone(run, args.only, 1, args.timeout)
    if not Path(run.DAGU).exists():
        print(f"reference (dagu): skipped, no binary at {run.DAGU} (set DAGU_BIN); plait alone")
        return plait_alone(run, args.only, args.runs, args.timeout)
    argv = ["--runs", str(args.runs), "--timeout", str(args.timeout), *rest]
    return with_reference(argv + (["--only", args.only] if args.only else []))


if __name__ == "__main__":
    sys.exit(main())
