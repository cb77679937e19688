"""A chain of nested child workflows, plait against the reference engine, side by side.

python bench/nested.py [--levels 6] [--runs 7] [--timeout 120] [--smoke]

One file of ``--levels`` workflows: each runs one ``echo`` step, then the next workflow as its
child (the last only its step). Both engines run it in turn (A B A B ..., a first pair as
warm-up), each with a fresh home, timed with the common yardstick's ``run_once``
(../shared/bench/run.py); the median wall times and the median ratio plait/reference are
printed (issue 13's target for six levels: <= 0.4). Without the reference binary
(``$DAGU_BIN``, else where run.py installs it) plait alone is timed. ``--smoke``: plait
alone, three levels, once after a warm-up; exits non-zero when a run fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from side_by_side import PLAIT, RUN_PY, load_run_py


def chain(levels: int) -> str:
    """The workflow file: ``level1`` calls ``level2`` ... down to ``level{levels}``."""
    documents = []
    for level in range(1, levels + 1):
        steps = [f"  - name: work\n    command: echo level {level}\n"]
        if level < levels:
            steps.append(f"  - name: down\n    depends: [work]\n    run: level{level + 1}\n")
        documents.append(f"name: level{level}\nsteps:\n" + "".join(steps))
    return "---\n".join(documents)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=6)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--smoke", action="store_true", help="plait alone, 3 levels, once")
    args = parser.parse_args()
    if args.smoke:
        args.levels, args.runs = 3, 1
    if not RUN_PY.is_file():
        print(f"the yardstick {RUN_PY} is missing", file=sys.stderr)
        return 2
    run = load_run_py()
    reference = Path(run.DAGU).exists() and not args.smoke
    if not reference and not args.smoke:
        print(f"reference (dagu): skipped, no binary at {run.DAGU} (set DAGU_BIN)")
    with tempfile.TemporaryDirectory(prefix="bench-nested-") as tmp:
        cwd = Path(tmp)
        (cwd / "chain.yaml").write_text(chain(args.levels))
        mine: list[tuple[float, int, int]] = []
        ref: list[tuple[float, int, int]] = []
        for _ in range(args.runs + 1):
            if reference:
                dagu = [run.DAGU, "start", "chain.yaml"]
                ref.append(run.run_once(dagu, "DAGU_HOME", cwd, args.timeout))
            argv = [str(PLAIT), "start", "chain.yaml"]
            mine.append(run.run_once(argv, "PLAIT_HOME", cwd, args.timeout))
    mine, ref = mine[1:], ref[1:]
    print(
        f"{args.levels} levels  plait median {statistics.median(m[0] for m in mine):.3f}s "
        f"exits {sorted({m[1] for m in mine})}"
    )
    failed = any(m[1] != 0 for m in mine)
    if reference:
        ratio = statistics.median(m[0] / r[0] for m, r in zip(mine, ref, strict=True))
        print(
            f"{args.levels} levels  dagu  median {statistics.median(r[0] for r in ref):.3f}s "
            f"exits {sorted({r[1] for r in ref})}  ratio plait/dagu {ratio:.2f}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
