"""Step logs: written as the step writes, capped per attempt, no file for a silent stream,
and what a step leaves running in the background still reaches its log."""

from __future__ import annotations

import json
import time
from pathlib import Path


def _status(cli, name: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("status", name, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def test_a_log_past_its_cap_is_cut_with_a_notice_and_the_step_goes_on(
    cli, write, home: Path, tmp_path: Path
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("logs:\n  maxStepLogSize: 1KiB\n")
    write(
        "loud.yaml",
        f"""
        name: loud
        steps:
          - name: spew
            command: |
              head -c 100000 /dev/zero | tr '\\0' 'a'
              echo done > {tmp_path}/after.txt
        """,
    )
    assert cli("start", "loud.yaml").code == 0
    step = _status(cli, "loud")["steps"][0]
    assert step["status"] == "succeeded"
    data = Path(step["stdoutFile"]).read_bytes()
    assert data.startswith(b"a" * 1024)
    assert data[1024:].decode().strip() == (
        "[plait: log cut here at 1024 bytes (the step's log cap); the rest is not kept]"
    )
    assert (tmp_path / "after.txt").read_text() == "done\n"


def test_a_bad_log_cap_is_a_clear_error(cli, write, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("logs:\n  maxStepLogSize: lots\n")
    write("w.yaml", "name: w\nsteps:\n  - name: s\n    command: 'true'\n")
    result = cli("start", "w.yaml")
    assert result.code == 1
    assert "config.yaml:2: logs.maxStepLogSize: `lots` is not a size" in result.err
    assert "Traceback" not in result.err


def test_a_silent_stream_leaves_no_file(cli, write) -> None:
    write("quiet.yaml", "name: quiet\nsteps:\n  - name: s\n    command: 'true'\n")
    assert cli("start", "quiet.yaml").code == 0
    step = _status(cli, "quiet")["steps"][0]
    assert not Path(step["stdoutFile"]).exists() and not Path(step["stderrFile"]).exists()
    assert cli("logs", "quiet", "--step", "s").out == ""


def test_the_step_ends_with_its_leader_and_a_background_writer_still_logs(
    cli, write, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    write(
        "bg.yaml",
        f"""
        name: bg
        steps:
          - name: leave
            command: |
              (while [ ! -f {go} ]; do sleep 0.05; done; echo from-background) &
              echo from-leader
        """,
    )
    # The background job writes only after the run has ended: a step that waited for
    # its stdout to close would never end.
    assert cli("start", "bg.yaml").code == 0
    go.touch()
    path = Path(_status(cli, "bg")["steps"][0]["stdoutFile"])
    deadline = time.monotonic() + 20
    while b"from-background" not in path.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.read_bytes() == b"from-leader\nfrom-background\n"
