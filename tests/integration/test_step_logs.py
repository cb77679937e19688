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


PACKED = """
name: packed
steps:
  - name: each
    command: sh -c 'echo "out $1"; echo "err $1" >&2; test "$1" != 7' _ ${ITEM}
    parallel:
      items: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
      maxConcurrent: 4
    continueOn: {failure: true}
  - name: nested
    run: packed-child
    parallel: {items: [a, b]}
    params: "X=${ITEM}"
---
name: packed-child
params: [X=a]
steps:
  - name: one
    command: echo "one ${X}"
  - name: again
    command: cat ${one.stdout}
  - name: big
    command: head -c 70000 /dev/zero | tr '\\0' '${X}'
"""


def test_the_small_logs_of_a_fan_out_are_packed_and_read_as_files(
    cli, write, home: Path, tmp_path: Path, store_backend: str
) -> None:
    """Each item's log is a file while it runs; once its run ends, a small one moves into the
    root run's pack and reads as before, through the CLI and the API; a big one stays a file."""
    write("packed.yaml", PACKED)
    assert cli("start", "packed.yaml").code == 3  # partly: item 7 fails, the run goes on
    root = _status(cli, "packed")
    folder = home / "logs" / "packed" / root["runId"]
    children = {c["item"]: c["runId"] for c in root["children"]}

    def step_of(run_id: str, name: str) -> dict:  # type: ignore[type-arg]
        run = json.loads(cli("status", "--run-id", run_id, "--json").out)
        return next(s for s in run["steps"] if s["name"] == name)  # type: ignore[no-any-return]

    seven = step_of(children["7"], "each")
    assert cli("logs", "--run-id", children["7"], "--step", "each").out == "out 7\n"
    assert cli("logs", "--run-id", children["7"], "--step", "each", "--stderr").out == "err 7\n"
    assert cli("logs", "--run-id", children["a"], "--step", "again").out == "one a\n"
    big = step_of(children["b"], "big")
    assert Path(big["stdoutFile"]).stat().st_size == 70000  # too big to pack: its own file
    assert cli("logs", "--run-id", children["b"], "--step", "big").out == "b" * 70000
    names = sorted(p.name for p in folder.iterdir())
    if store_backend == "sqlite":
        assert ".pack:" in seven["stdoutFile"] and ".pack:" in seven["stderrFile"]
        assert not Path(seven["stdoutFile"]).exists()
        # 12 items x 2 streams and 2 x 2 small logs of the child: in one pack
        assert names == sorted(
            ["run.log", "logs.pack", Path(big["stdoutFile"]).name, _other_big(folder, big)]
        )
    else:  # logs shipped to the store stay under their own paths (other hosts read them)
        assert Path(seven["stdoutFile"]).read_text() == "out 7\n"
    # no log leaves an empty file (on PostgreSQL nothing of an empty log was shipped either)
    assert [p.name for p in folder.iterdir() if p.stat().st_size == 0] == []
    again = step_of(children["a"], "again")
    if store_backend != "sqlite":
        assert not Path(again["stderrFile"]).exists()
    empty = cli("logs", "--run-id", children["a"], "--step", "again", "--stderr")
    assert (empty.code, empty.out) == (0, ""), empty.err

    from tests.servers import plait_server

    with plait_server(tmp_path, tmp_path) as (url, _):
        import httpx

        base = f"{url}/api/v1/runs/{children['7']}/steps/each/log"
        assert httpx.get(base, params={"stream": "stderr"}).json()["content"] == "err 7\n"
        tail = httpx.get(base, params={"tail": 1}).json()
        assert (tail["content"], tail["size"]) == ("out 7\n", 6)
        raw = httpx.get(base + "/raw")
        assert raw.status_code == 200 and raw.text == "out 7\n"
        quiet = f"{url}/api/v1/runs/{children['a']}/steps/again/log"
        answer = httpx.get(quiet, params={"stream": "stderr"})
        assert answer.status_code == 200 and answer.json()["content"] == "", answer.text


def _other_big(folder: Path, big: dict) -> str:  # type: ignore[type-arg]
    """The big log of the other child (its name differs from ``big``'s by the run id)."""
    (other,) = (
        p.name
        for p in folder.iterdir()
        if p.name.endswith(".big.1.out") and p.name != Path(big["stdoutFile"]).name
    )
    return other


def test_a_child_log_followed_live_is_read_to_its_end_after_it_moves_into_the_pack(
    write, home: Path, tmp_path: Path, plait_bin
) -> None:
    """``plait logs -f`` and the UI's log stream of a child's step: the step writes a line,
    waits for the test, writes the rest and its run ends (its small log moves into the root's
    pack, the file goes): both still read every line, then stop."""
    import subprocess
    import sys
    import threading

    import httpx

    from tests.servers import plait_server

    go = tmp_path / "go"
    write(
        "mover.yaml",
        f"""
        name: mover
        steps:
          - name: call
            run: mover-child
        ---
        name: mover-child
        steps:
          - name: talk
            command: >-
              sh -c 'echo first; while [ ! -e {go} ]; do sleep 0.05; done;
              for i in 2 3 4 5; do echo "line $i"; done'
        """,
    )
    root = subprocess.Popen([sys.executable, "-m", "plait", "start", "-q", "mover.yaml"])
    try:
        child = ""
        deadline = time.monotonic() + 60
        while not child:
            assert time.monotonic() < deadline, "the child run did not start"
            time.sleep(0.1)
            shown = plait_bin("status", "mover", "--json")
            if shown.code == 0:
                kids = json.loads(shown.out).get("children") or []
                child = kids[0]["runId"] if kids else ""
        follower = subprocess.Popen(
            [sys.executable, "-m", "plait", "logs", "--run-id", child, "--step", "talk", "-f"],
            stdout=subprocess.PIPE,
        )
        lines: list[bytes] = []
        reader = threading.Thread(target=lambda: lines.extend(follower.stdout or []))
        reader.start()
        with plait_server(tmp_path, tmp_path) as (url, _):
            events: list[str] = []
            stream_url = f"{url}/api/v1/runs/{child}/steps/talk/log/stream"

            def listen() -> None:
                with httpx.stream("GET", stream_url, timeout=120) as response:
                    for line in response.iter_lines():
                        events.append(line)
                        if line.startswith("event: end"):
                            return

            listener = threading.Thread(target=listen)
            listener.start()
            deadline = time.monotonic() + 60
            while not (lines and any("first" in e for e in events)):
                assert time.monotonic() < deadline, f"nothing followed: {lines} {events}"
                time.sleep(0.05)
            go.touch()
            assert root.wait(timeout=120) == 0
            follower.wait(timeout=60)
            reader.join(timeout=30)
            listener.join(timeout=60)
        assert b"".join(lines) == b"first\nline 2\nline 3\nline 4\nline 5\n"
        streamed = "".join(
            json.loads(e[len("data: ") :])["content"]
            for e in events
            if e.startswith("data: ") and '"content"' in e
        )
        assert streamed == "first\nline 2\nline 3\nline 4\nline 5\n"
    finally:
        if root.poll() is None:
            root.kill()
            root.wait()
