"""handlerOn: which handlers run for each way a run ends, what they see, how they are recorded.

Every handler writes `$DAG_RUN_STATUS` (from its environment) and the text plait substituted
for `${DAG_RUN_STATUS}` and `${OUT}` into a file named after it, so the test can read back
exactly what each handler saw.
"""

from __future__ import annotations

import json
from pathlib import Path


def status_json(cli, target: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("status", target, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def handlers_of(record: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {step["name"]: step for step in record["steps"] if step.get("handler")}


def handler_block(*events: str) -> str:
    lines = ["handlerOn:"]
    for event in events:
        lines += [
            f"  {event}:",
            f'    command: echo "$DAG_RUN_STATUS|${{DAG_RUN_STATUS}}|${{OUT}}" > seen-{event}',
        ]
    return "\n".join(lines)


def seen(tmp_path: Path, event: str) -> str | None:
    path = tmp_path / f"seen-{event}"
    return path.read_text().strip() if path.exists() else None


ALL = ("init", "success", "failure", "cancel", "exit")


def workflow(name: str, steps: str, events: tuple[str, ...] = ALL) -> str:
    return f"name: {name}\ntype: graph\nsteps:\n{steps}\n{handler_block(*events)}\n"


def test_successful_run_runs_success_and_exit_handlers(cli, write, tmp_path: Path) -> None:
    steps = "  - name: make\n    command: echo made\n    output: OUT\n"
    (tmp_path / "ok.yaml").write_text(workflow("ok", steps))
    result = cli("start", "ok.yaml")
    assert result.code == 0, result.out + result.err
    assert seen(tmp_path, "success") == "succeeded|succeeded|made"
    assert seen(tmp_path, "exit") == "succeeded|succeeded|made"
    assert seen(tmp_path, "failure") is None
    assert seen(tmp_path, "cancel") is None
    record = status_json(cli, "ok")
    assert record["status"] == "succeeded"
    handlers = handlers_of(record)
    assert set(handlers) == {"onInit", "onSuccess", "onExit"}
    assert all(h["status"] == "succeeded" for h in handlers.values())
    main = next(s for s in record["steps"] if s["name"] == "make")
    assert "handler" not in main
    # order: init before the steps, success before exit, exit last
    assert handlers["onInit"]["finishedAt"] <= main["startedAt"]
    assert main["finishedAt"] <= handlers["onSuccess"]["startedAt"]
    assert handlers["onSuccess"]["finishedAt"] <= handlers["onExit"]["startedAt"]


def test_init_handler_sees_running(cli, write, tmp_path: Path) -> None:
    (tmp_path / "init.yaml").write_text(
        workflow("init", "  - name: a\n    command: 'true'\n", ("init",))
    )
    assert cli("start", "init.yaml").code == 0
    assert seen(tmp_path, "init") == "running|running|"


def test_init_handler_runs_first(cli, write, tmp_path: Path) -> None:
    write(
        "first.yaml",
        """
        name: first
        steps:
          - name: a
            command: echo step >> order
        handlerOn:
          init:
            command: echo init >> order
          exit:
            command: echo exit >> order
    """,
    )
    assert cli("start", "first.yaml").code == 0
    assert (tmp_path / "order").read_text().split() == ["init", "step", "exit"]


def test_failed_run_runs_failure_and_exit_handlers(cli, write, tmp_path: Path) -> None:
    steps = "  - name: make\n    command: echo made\n    output: OUT\n"
    steps += "  - name: boom\n    command: exit 2\n    depends: make\n"
    (tmp_path / "bad.yaml").write_text(workflow("bad", steps))
    assert cli("start", "bad.yaml").code == 1
    assert seen(tmp_path, "failure") == "failed|failed|made"
    assert seen(tmp_path, "exit") == "failed|failed|made"
    assert seen(tmp_path, "success") is None
    assert seen(tmp_path, "cancel") is None
    record = status_json(cli, "bad")
    assert record["status"] == "failed"
    assert set(handlers_of(record)) == {"onInit", "onFailure", "onExit"}


def test_partially_succeeded_run_runs_success_handler(cli, write, tmp_path: Path) -> None:
    steps = "  - name: make\n    command: echo made; exit 1\n    output: OUT\n"
    steps += "    continueOn: {failure: true}\n"
    steps += "  - name: next\n    command: 'true'\n    depends: make\n"
    (tmp_path / "ps.yaml").write_text(workflow("ps", steps))
    result = cli("start", "ps.yaml")
    assert result.code == 3, result.out + result.err
    assert seen(tmp_path, "success") == "partially_succeeded|partially_succeeded|made"
    assert seen(tmp_path, "exit") == "partially_succeeded|partially_succeeded|made"
    assert seen(tmp_path, "failure") is None
    record = status_json(cli, "ps")
    assert record["status"] == "partially_succeeded"


def test_failing_success_handler_fails_the_run(cli, write, tmp_path: Path) -> None:
    write(
        "fh.yaml",
        """
        name: fh
        steps:
          - name: a
            command: "true"
        handlerOn:
          success:
            command: exit 6
          exit:
            command: echo "$DAG_RUN_STATUS" > exit-status
    """,
    )
    result = cli("start", "fh.yaml")
    assert result.code == 1, result.out + result.err
    record = status_json(cli, "fh")
    assert record["status"] == "failed"
    assert "onSuccess" in (record["error"] or "")
    handlers = handlers_of(record)
    assert handlers["onSuccess"]["status"] == "failed"
    assert handlers["onSuccess"]["exitCode"] == 6
    assert handlers["onExit"]["status"] == "succeeded"
    assert (tmp_path / "exit-status").read_text().strip() == "failed"


def test_failing_exit_handler_fails_the_run(cli, write) -> None:
    write(
        "fx.yaml",
        """
        name: fx
        steps:
          - name: a
            command: "true"
        handlerOn:
          exit:
            command: exit 1
    """,
    )
    assert cli("start", "fx.yaml").code == 1
    record = status_json(cli, "fx")
    assert record["status"] == "failed"
    assert handlers_of(record)["onExit"]["status"] == "failed"


def test_failing_init_handler_fails_the_run_before_any_step(cli, write, tmp_path: Path) -> None:
    write(
        "fi.yaml",
        """
        name: fi
        steps:
          - name: a
            command: touch ran-a
        handlerOn:
          init:
            command: exit 1
          failure:
            command: touch ran-failure
          exit:
            command: touch ran-exit
    """,
    )
    assert cli("start", "fi.yaml").code == 1
    record = status_json(cli, "fi")
    assert record["status"] == "failed"
    assert not (tmp_path / "ran-a").exists()
    assert (tmp_path / "ran-failure").exists()
    assert (tmp_path / "ran-exit").exists()
    assert next(s for s in record["steps"] if s["name"] == "a")["status"] == "not_started"


def test_handlers_get_their_own_step_name_and_logs(cli, write) -> None:
    write(
        "hn.yaml",
        """
        name: hn
        steps:
          - name: a
            command: "true"
        handlerOn:
          success:
            command: echo "name=$DAG_RUN_STEP_NAME"
    """,
    )
    assert cli("start", "hn.yaml").code == 0
    assert cli("logs", "hn", "--step", "onSuccess").out == "name=onSuccess\n"
