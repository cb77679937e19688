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
    "prometheus_client",
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


TRACED_SHAPES = """
name: shapes
{otel}
steps:
  - name: flaky
    command: test -f {flag} || {{ touch {flag}; exit 3; }}
    retryPolicy: {{limit: 1, intervalSec: 0}}
  - name: fan
    run: leaf
    parallel: {{items: [a, b]}}
    params: "X=${{ITEM}}"
---
name: leaf
params: [X=a]
steps:
  - name: say
    command: echo ${{X}}
"""


def _modules_of_start(tmp_path: Path, otel: str, env: dict[str, str] | None = None) -> set[str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    workflow = tmp_path / "shapes.yaml"
    workflow.write_text(TRACED_SHAPES.format(otel=otel, flag=tmp_path / "flag"))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(workflow)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PLAIT_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_without_telemetry_configured_a_start_imports_no_opentelemetry(tmp_path: Path) -> None:
    # a retry, a child workflow and a fan-out: every hook of the tracing is called, for nothing
    loaded = _modules_of_start(tmp_path, otel="", env={"OTEL_SERVICE_NAME": "not-enough"})
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_telemetry_configured_imports_opentelemetry(tmp_path: Path) -> None:
    # (what the test above checks can fail: the same run, traced, does import it; the
    # collector is a closed port, and the run succeeds all the same)
    otel = "otel: {endpoint: 'http://127.0.0.1:9', timeout: 1s}"
    assert "opentelemetry" in _modules_of_start(tmp_path, otel=otel)
    off = "otel: {endpoint: 'http://127.0.0.1:9', enabled: false}"
    assert "opentelemetry" not in _modules_of_start(tmp_path / "off", otel=off)
