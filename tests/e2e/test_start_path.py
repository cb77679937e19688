"""What a plain ``plait start`` imports: nothing it does not need — no executor library, no
web framework, no database driver, no cron library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "jq",
    "httpx",
    "paramiko",
    "docker",
    "fastapi",
    "starlette",
    "uvicorn",
    "croniter",
    "psycopg",
    "procrastinate",
    "opentelemetry",
    "tempfile",
    "typing",  # 3 ms of a start's 30: annotations only, under TYPE_CHECKING
    "psycopg_pool",
)

PROBE = """
import json, sys
from plait.cli.main import main
code = main(["start", "-q", sys.argv[1]])
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)), file=sys.stderr)
"""


def test_a_plain_start_imports_no_executor_server_or_cron_library(tmp_path: Path) -> None:
    workflow = tmp_path / "plain.yaml"
    workflow.write_text(
        "name: plain\nschedule: '0 5 * * *'\nparams:\n  - X: a\nsteps:\n"
        "  - name: one\n    command: echo ${X}\n  - name: two\n    script: echo two\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(workflow)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PLAIT_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
