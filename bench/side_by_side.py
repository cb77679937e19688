"""Runs the common yardstick (../shared/bench/run.py) with this checkout's plait.

python bench/side_by_side.py [--only one,forkjoin] [--runs 5]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    script = ROOT.parent / "shared" / "bench" / "run.py"
    plait = ROOT / ".venv" / "bin" / "plait"
    return subprocess.call([sys.executable, str(script), "--cmd", str(plait), *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
