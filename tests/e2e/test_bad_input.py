"""Bad input through the installed command: one short message naming file, line and field,
a non-zero exit, never a traceback, and nothing half-written in the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

CASES = {
    "syntax": ("name: x\nsteps:\n  - name: a\n    command: [unclosed\n", "x.yaml:", "YAML"),
    "unknown key": (
        "name: x\nsteps:\n  - name: a\n    comand: echo\n",
        "x.yaml:4",
        "did you mean `command`",
    ),
    "duplicate key": (
        "name: x\nsteps:\n  - name: a\n    command: echo\n    command: echo\n",
        "x.yaml:5",
        "duplicate",
    ),
    "unknown depends": (
        "name: x\nsteps:\n  - name: a\n    command: echo\n    depends: b\n",
        "x.yaml:5",
        "depends",
    ),
    "cycle": (
        "name: x\ntype: graph\nsteps:\n  - name: a\n    command: echo\n    depends: b\n"
        "  - name: b\n    command: echo\n    depends: a\n",
        "x.yaml:",
        "cycle",
    ),
    "self dependency": (
        "name: x\nsteps:\n  - name: a\n    command: echo\n    depends: a\n",
        "x.yaml:5",
        "cycle: a -> a",
    ),
    "nothing to run": ("name: x\nsteps:\n  - name: a\n", "x.yaml:3", "nothing to run"),
    "negative timeout": (
        "name: x\nsteps:\n  - name: a\n    command: echo\n    timeoutSec: -1\n",
        "x.yaml:5",
        "timeoutSec",
    ),
    "bad cron": (
        "name: x\nschedule: '61 * * * *'\nsteps:\n  - name: a\n    command: echo\n",
        "x.yaml:2",
        "schedule",
    ),
    "missing child": (
        "name: x\nsteps:\n  - name: a\n    run: no/such/child\n",
        "x.yaml:3",
        "`no/such/child` not found",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["validate", "start"])
def test_bad_workflow_gets_one_clear_error(
    case: str, command: str, plait_bin, tmp_path: Path, home: Path
) -> None:
    text, where, words = CASES[case]
    (tmp_path / "x.yaml").write_text(text)
    result = plait_bin(command, tmp_path / "x.yaml")
    assert result.code == 1, (result.out, result.err)
    assert "Traceback" not in result.err + result.out
    assert where in result.err, result.err
    assert words.lower() in result.err.lower(), result.err
    if command == "start" and (home / "plait.db").exists():
        db = sqlite3.connect(home / "plait.db")
        try:
            assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        finally:
            db.close()


def test_all_problems_of_a_file_are_reported_at_once(plait_bin, tmp_path: Path, home: Path) -> None:
    (tmp_path / "x.yaml").write_text(
        "name: x\nsteps:\n  - name: a\n    comand: echo\n  - name: b\n    command: echo\n"
        "    timeoutSec: -5\n    depends: zzz\n"
    )
    result = plait_bin("validate", tmp_path / "x.yaml")
    assert result.code == 1
    lines = [line for line in result.err.splitlines() if line.startswith(str(tmp_path))]
    assert len(lines) >= 3, result.err


def test_bad_params_and_unknown_targets(plait_bin, tmp_path: Path, home: Path) -> None:
    (tmp_path / "ok.yaml").write_text("name: ok\nsteps:\n  - name: a\n    command: echo\n")
    bad = plait_bin("start", "--params", 'A="unclosed', tmp_path / "ok.yaml")
    assert bad.code == 1 and "Traceback" not in bad.err and "--params" in bad.err
    missing = plait_bin("start", "no-such-workflow")
    assert missing.code == 1 and "no-such-workflow" in missing.err
    usage = plait_bin("start")
    assert usage.code == 2 and "Traceback" not in usage.err
    assert plait_bin("status", "ok", "--run-id", "nope").code == 1
    traversal = plait_bin("start", "--run-id", "../..", tmp_path / "ok.yaml")
    assert traversal.code == 1 and "run id" in traversal.err and "Traceback" not in traversal.err
