"""Child workflows (``run:``): resolution, params, results, nesting and the record tree.

Everything goes through the real CLI in this process, with real subprocesses and SQLite.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest


def status_json(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("status", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def root_run_id(tree: str) -> str:
    """The run id on the first line of the tree ``plait start`` prints."""
    found = re.search(r"run (\S+)$", tree.splitlines()[0])
    assert found, tree
    return found.group(1)


def only_child(record: dict, step: str) -> dict:  # type: ignore[type-arg]
    children = [c for c in record["children"] if c["step"] == step]
    assert len(children) == 1, record["children"]
    return children[0]


CHILD = """
name: child
params:
  - WHO: nobody
steps:
  - name: hello
    command: echo "hi ${WHO}"
    output: GREETING
"""


def parent_running(ref: str) -> str:
    return f"""
    name: parent
    steps:
      - name: call
        run: {ref}
        params: "WHO=parent"
        output: RESULT
    """


def assert_called_child(cli, source: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("start", source)
    assert result.code == 0, result.out + result.err
    record = status_json(cli, "parent")
    result_json = json.loads(record["outputs"]["RESULT"])
    assert result_json["name"] == "child"
    assert result_json["outputs"] == {"GREETING": "hi parent"}


# ---------------------------------------------------------------- resolution


def test_child_is_a_document_of_the_same_file(cli, write) -> None:
    source = write("flows/parent.yaml", parent_running("child") + "\n---\n" + CHILD)
    assert_called_child(cli, source)


def test_a_document_of_the_same_file_wins_over_a_file_of_that_name(cli, write) -> None:
    write("flows/child.yaml", CHILD.replace('"hi ${WHO}"', '"from the file"'))
    source = write("flows/parent.yaml", parent_running("child") + "\n---\n" + CHILD)
    assert_called_child(cli, source)


@pytest.mark.parametrize(
    ("file", "ref"),
    [
        ("lib/child.yaml", "lib/child"),
        ("lib/child.yaml", "lib/child.yaml"),
        ("lib/child.yml", "lib/child"),
        ("lib/child.yml", "lib/child.yml"),
        ("child.yaml", "child"),
    ],
)
def test_child_path_is_relative_to_the_parent_files_folder(cli, write, file, ref) -> None:
    # The working directory is the test's tmp folder, not flows/: only the parent's folder
    # can make the reference resolve.
    write(f"flows/{file}", CHILD)
    source = write("flows/parent.yaml", parent_running(ref))
    assert_called_child(cli, source)


@pytest.mark.parametrize(
    ("file", "ref"),
    [
        ("shared/child.yaml", "shared/child"),
        ("shared/child.yaml", "shared/child.yaml"),
        ("shared/child.yml", "shared/child"),
        ("child.yaml", "child"),
    ],
)
def test_child_found_in_the_dags_folder(cli, write, tmp_path, monkeypatch, file, ref) -> None:
    dags = tmp_path / "somewhere" / "dags"
    monkeypatch.setenv("PLAIT_DAGS_DIR", str(dags))
    write(f"somewhere/dags/{file}", CHILD)
    source = write("flows/parent.yaml", parent_running(ref))
    assert cli("validate", source).code == 0
    assert_called_child(cli, source)


def test_child_found_in_the_default_dags_folder_of_plait_home(cli, write, home) -> None:
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "child.yaml").write_text(CHILD)
    assert_called_child(cli, write("flows/parent.yaml", parent_running("child")))


def test_call_is_an_alias_of_run(cli, write) -> None:
    text = parent_running("child").replace("run: child", "call: child")
    assert_called_child(cli, write("flows/parent.yaml", text + "\n---\n" + CHILD))


# ---------------------------------------------------------------- bad references


def test_missing_child_is_a_validation_error_naming_step_file_line_and_places(
    cli, write, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("PLAIT_DAGS_DIR", str(tmp_path / "dags"))
    source = write(
        "flows/missing.yaml",
        """
        name: missing
        steps:
          - name: first
            command: echo hi
          - name: call-it
            run: nowhere/child
        """,
    )
    result = cli("validate", source)
    assert result.code == 1
    assert "Traceback" not in result.err
    assert f"{source}:5:" in result.err
    assert "call-it" in result.err and "nowhere/child" in result.err
    for place in (
        str(tmp_path / "flows" / "nowhere" / "child.yaml"),
        str(tmp_path / "flows" / "nowhere" / "child.yml"),
        str(tmp_path / "dags" / "nowhere" / "child.yaml"),
    ):
        assert place in result.err


def test_start_of_a_missing_child_fails_without_traceback(cli, write, tmp_path) -> None:
    source = write(
        "flows/missing.yaml",
        """
        name: missing
        steps:
          - name: call-it
            run: nowhere/child
        """,
    )
    result = cli("start", source)
    assert result.code == 1
    assert "Traceback" not in result.out + result.err
    text = result.out + result.err
    assert "call-it" in text and "nowhere/child" in text
    assert str(tmp_path / "flows" / "nowhere" / "child.yaml") in text


def test_start_rejects_a_missing_child_before_running_anything(cli, write, tmp_path) -> None:
    source = write(
        "flows/missing.yaml",
        """
        name: missing
        steps:
          - name: first
            command: touch ran.txt
          - name: call-it
            run: nowhere/child
        """,
    )
    result = cli("start", source)
    assert result.code == 1
    assert f"{source}:5:" in result.err
    assert "call-it" in result.err and "nowhere/child" in result.err
    assert not (tmp_path / "flows" / "ran.txt").exists()
    assert not (tmp_path / "ran.txt").exists()


def test_start_rejects_static_self_recursion_before_running_anything(cli, write) -> None:
    source = write("flows/loop.yaml", "name: loop\nsteps:\n  - name: again\n    run: loop\n")
    result = cli("start", source)
    assert result.code == 1
    assert f"{source}:3:" in result.err and "runs itself" in result.err


def test_child_that_fails_to_load_names_the_childs_file_and_line(cli, write) -> None:
    child = write(
        "flows/lib/bad.yaml",
        """
        name: bad
        steps:
          - name: x
            command: echo a
            bogus: 1
        """,
    )
    source = write(
        "flows/parent.yaml",
        """
        name: parent
        steps:
          - name: call
            run: lib/bad
        """,
    )
    result = cli("validate", source)
    assert result.code == 1
    assert "Traceback" not in result.err
    assert f"{child}:5:" in result.err and "bogus" in result.err
    started = cli("start", source)
    assert started.code == 1
    assert "Traceback" not in started.out + started.err
    assert f"{child}:5:" in started.out + started.err


def test_self_recursion_is_rejected_by_validate(cli, write) -> None:
    source = write(
        "flows/loop.yaml",
        """
        name: loop
        steps:
          - name: again
            run: loop
        """,
    )
    result = cli("validate", source)
    assert result.code == 1
    assert f"{source}:3:" in result.err
    assert "runs itself" in result.err and "loop -> loop" in result.err


def test_indirect_recursion_across_files_is_rejected_by_validate(cli, write) -> None:
    write("flows/b.yaml", "name: b\nsteps:\n  - name: to-a\n    run: a\n")
    source = write("flows/a.yaml", "name: a\nsteps:\n  - name: to-b\n    run: b\n")
    result = cli("validate", source)
    assert result.code == 1
    assert "runs itself" in result.err and "a -> b -> a" in result.err


def test_dynamic_self_recursion_stops_at_the_depth_limit(cli, write) -> None:
    source = write(
        "flows/dynrec.yaml",
        """
        name: dynrec
        params:
          - ME: dynrec
        steps:
          - name: again
            run: ${ME}
        """,
    )
    assert cli("validate", source).code == 0  # not visible statically
    result = cli("start", source)
    assert result.code == 1
    assert "Traceback" not in result.out + result.err
    assert "nested deeper than 32 levels" in result.out
    record = status_json(cli, "--run-id", root_run_id(result.out))
    assert record["status"] == "failed"
    assert record["parentRunId"] is None
    assert "nested deeper than 32 levels" in record["error"]
    # 32 levels of children, each recorded with the same root.
    depth, current = 0, record
    while current["children"]:
        current = status_json(cli, "--run-id", only_child(current, "again")["runId"])
        assert current["rootRunId"] == record["runId"]
        depth += 1
    assert depth == 32


def test_error_of_a_deep_failure_stays_short(cli, write) -> None:
    # Each level used to repeat the whole error of the level below: a quadratic wall of text.
    source = write(
        "flows/dynrec.yaml",
        "name: dynrec\nparams:\n  - ME: dynrec\nsteps:\n  - name: again\n    run: ${ME}\n",
    )
    result = cli("start", source)
    assert result.code == 1
    record = status_json(cli, "--run-id", root_run_id(result.out))
    assert len(record["error"]) < 400, record["error"]
    assert "nested deeper than 32 levels" in record["error"]
    assert len(result.out) < 50_000


def test_status_by_name_shows_the_root_run_not_a_child_of_the_same_workflow(cli, write) -> None:
    source = write(
        "flows/rec.yaml",
        """
        name: rec
        params:
          - LEVEL: top
          - ME: rec
        steps:
          - name: once-more
            run: ${ME}
            params: LEVEL=inner
            preconditions:
              - condition: ${LEVEL}
                expected: top
        """,
    )
    result = cli("start", source)
    assert result.code == 0, result.out
    assert status_json(cli, "rec")["runId"] == root_run_id(result.out)


# ---------------------------------------------------------------- params


ECHO_PARAMS = """
name: show
params:
  - A: default-a
  - B: default-b
steps:
  - name: show
    command: python3 -c 'import json, os; print(json.dumps([os.environ["A"], os.environ["B"]]))'
    output: SEEN
"""


@pytest.mark.parametrize(
    "params",
    [
        'params: A=one B="two words"',
        "params: |\n      A=one\n      B=two words",
        "params:\n      - A: one\n      - B: two words",
        "params:\n      - A=one\n      - B=two words",
        "params:\n      A: one\n      B: two words",
    ],
    ids=["string", "block", "list", "list-of-strings", "map"],
)
def test_params_forms_reach_the_child(cli, write, params: str) -> None:
    head = f"name: parent\nsteps:\n  - name: call\n    run: show\n    {params}\n    output: R\n---"
    source = write("flows/parent.yaml", head + ECHO_PARAMS)
    result = cli("start", source)
    assert result.code == 0, result.out + result.err
    outcome = json.loads(status_json(cli, "parent")["outputs"]["R"])
    assert outcome["params"] == {"A": "one", "B": "two words"}
    assert json.loads(outcome["outputs"]["SEEN"]) == ["one", "two words"]


def test_params_are_expanded_in_the_parent_before_the_child_starts(cli, write) -> None:
    head = """
        name: parent
        params:
          - WHO: outer
        env:
          - PLACE: here
        steps:
          - name: first
            command: echo made-by-first
            output: FIRST
          - name: call
            run: show
            params: |
              A=${WHO} and ${FIRST}
              B=${PLACE} `echo ticked`
            output: R
        ---
        """
    source = write("flows/parent.yaml", textwrap.dedent(head) + ECHO_PARAMS)
    assert cli("start", source).code == 0
    outcome = json.loads(status_json(cli, "parent")["outputs"]["R"])
    assert outcome["params"] == {"A": "outer and made-by-first", "B": "here ticked"}


def test_child_defaults_apply_to_params_not_given(cli, write) -> None:
    source = write(
        "flows/parent.yaml",
        "name: parent\nsteps:\n  - name: call\n    run: show\n    params: B=given\n"
        "    output: R\n---\n" + ECHO_PARAMS,
    )
    assert cli("start", source).code == 0
    outcome = json.loads(status_json(cli, "parent")["outputs"]["R"])
    assert outcome["params"] == {"A": "default-a", "B": "given"}


# ---------------------------------------------------------------- results


def test_child_result_json_as_step_output_output_var_and_outputs_key(cli, write) -> None:
    source = write(
        "flows/parent.yaml",
        """
        name: parent
        steps:
          - name: prepare-data
            run: child-workflow
            params: "DATASET=customers"
            output: PREPARED_DATA
          - name: by-key
            command: echo "path=${PREPARED_DATA.outputs.FILE_PATH} n=${PREPARED_DATA.outputs.ROWS}"
            output: BY_KEY
          - name: by-step
            command: echo '${prepare-data.output}'
            output: BY_STEP
        ---
        name: child-workflow
        params:
          - DATASET: ""
        steps:
          - name: extract
            command: echo /data/${DATASET}.csv
            output: FILE_PATH
          - name: count
            command: echo 42
            output: ROWS
          - name: quiet
            command: echo no output var
        """,
    )
    assert cli("start", source).code == 0
    record = status_json(cli, "parent")
    child = only_child(record, "prepare-data")
    result = json.loads(record["outputs"]["PREPARED_DATA"])
    assert result == {
        "name": "child-workflow",
        "runId": child["runId"],
        "params": {"DATASET": "customers"},
        "status": "succeeded",
        "outputs": {"FILE_PATH": "/data/customers.csv", "ROWS": "42"},
    }
    assert json.loads(record["outputs"]["BY_STEP"]) == result
    assert record["outputs"]["BY_KEY"] == "path=/data/customers.csv n=42"


def test_failed_child_fails_the_step_and_its_result_is_still_recorded(cli, write) -> None:
    source = write(
        "flows/parent.yaml",
        """
        name: parent
        steps:
          - name: call
            run: breaks
            output: R
          - name: after
            command: echo never
        ---
        name: breaks
        steps:
          - name: ok
            command: echo partial
            output: PART
          - name: boom
            command: exit 7
        """,
    )
    result = cli("start", source)
    assert result.code == 1
    record = status_json(cli, "parent")
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["call"]["status"] == "failed"
    assert steps["after"]["status"] == "upstream_failed"
    child = only_child(record, "call")
    assert child["status"] == "failed"
    assert child["runId"] in steps["call"]["error"]
    outcome = json.loads(steps["call"]["output"])
    assert outcome["status"] == "failed"
    assert outcome["outputs"] == {"PART": "partial"}


# ---------------------------------------------------------------- nesting and the tree


THREE_LEVELS = """
name: top
params:
  - COLOR: red
steps:
  - name: to-middle
    run: middle
    params: "SHADE=dark-${COLOR}"
    output: MIDDLE
  - name: report
    command: echo "${MIDDLE.outputs.FROM_BOTTOM}"
    output: REPORT
---
name: middle
params:
  - SHADE: none
steps:
  - name: to-bottom
    run: levels/bottom
    params:
      TONE: ${SHADE}-tone
      DEPTH: two
    output: BOTTOM
  - name: lift
    command: echo "${BOTTOM.outputs.PAINT}"
    output: FROM_BOTTOM
"""

BOTTOM = """
name: bottom
params:
  - TONE: none
  - DEPTH: zero
steps:
  - name: paint
    command: echo "painted ${TONE} at ${DEPTH}"
    output: PAINT
"""


def run_three_levels(cli, write) -> tuple[dict, dict, dict]:  # type: ignore[no-untyped-def]
    write("flows/levels/bottom.yaml", BOTTOM)
    # `levels/bottom` is relative to the file of `middle`, a document of top.yaml.
    source = write("flows/top.yaml", THREE_LEVELS)
    result = cli("start", source)
    assert result.code == 0, result.out + result.err
    top = status_json(cli, "top")
    middle = status_json(cli, "--run-id", only_child(top, "to-middle")["runId"])
    bottom = status_json(cli, "--run-id", only_child(middle, "to-bottom")["runId"])
    return top, middle, bottom


def test_three_levels_pass_params_down_and_outputs_up(cli, write) -> None:
    top, middle, bottom = run_three_levels(cli, write)
    assert middle["params"] == {"SHADE": "dark-red"}
    assert bottom["params"] == {"TONE": "dark-red-tone", "DEPTH": "two"}
    assert bottom["outputs"] == {"PAINT": "painted dark-red-tone at two"}
    assert top["outputs"]["REPORT"] == "painted dark-red-tone at two"


def test_child_runs_are_recorded_with_parent_step_and_root(cli, write) -> None:
    top, middle, bottom = run_three_levels(cli, write)
    assert top["parentRunId"] is None and top["rootRunId"] == top["runId"]
    assert middle["parentRunId"] == top["runId"]
    assert middle["parentStep"] == "to-middle"
    assert middle["rootRunId"] == top["runId"]
    assert bottom["parentRunId"] == middle["runId"]
    assert bottom["parentStep"] == "to-bottom"
    assert bottom["rootRunId"] == top["runId"]
    child = only_child(top, "to-middle")
    assert child["name"] == "middle"
    assert child["status"] == "succeeded"
    assert child["item"] is None and child["itemIndex"] is None
    # The grandchild is reachable by run id from the CLI, and so are its logs.
    assert bottom["steps"][0]["status"] == "succeeded"
    logs = cli("logs", "--run-id", bottom["runId"], "--step", "paint")
    assert logs.code == 0, logs.err
    assert logs.out == "painted dark-red-tone at two\n"
    # Children have their own runs (history of the child workflow).
    history = json.loads(cli("history", "bottom", "--json").out)
    assert [run["runId"] for run in history] == [bottom["runId"]]


def test_status_run_id_of_a_child_with_the_parent_name_works(cli, write) -> None:
    _, middle, _ = run_three_levels(cli, write)
    record = status_json(cli, "top", "--run-id", middle["runId"])
    assert record["runId"] == middle["runId"]


def test_final_tree_shows_children_under_their_step(cli, write) -> None:
    write("flows/levels/bottom.yaml", BOTTOM)
    source = write("flows/top.yaml", THREE_LEVELS)
    result = cli("start", source)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].startswith("top ")
    bare = [line.lstrip(" │├└─✓✗") for line in lines]
    position = {
        key: next(i for i, text in enumerate(bare) if text.startswith(key))
        for key in ("to-middle ", "middle ", "to-bottom ", "bottom ", "paint ", "report ")
    }
    assert (
        position["to-middle "]
        < position["middle "]
        < position["to-bottom "]
        < position["bottom "]
        < position["paint "]
        < position["report "]
    )
    indent = {key: len(lines[i]) - len(bare[i]) for key, i in position.items()}
    assert indent["to-middle "] < indent["to-bottom "] < indent["paint "]
    assert "painted dark-red-tone at two" in result.out


def test_child_run_is_recorded_while_it_runs(cli, write, tmp_path) -> None:
    # The child's step reads the store while the child is still running.
    source = write(
        "flows/parent.yaml",
        f"""
        name: parent
        steps:
          - name: call
            run: peek
        ---
        name: peek
        steps:
          - name: look
            command: >-
              {sys.executable} -c 'import json, os, subprocess, sys;
              done = subprocess.run([sys.executable, "-m", "plait", "status",
              "--run-id", os.environ["DAG_RUN_ID"], "--json"], capture_output=True, text=True);
              print(json.loads(done.stdout)["status"])'
            output: SEEN
        """,
    )
    assert cli("start", source).code == 0
    record = status_json(cli, "parent")
    child = status_json(cli, "--run-id", only_child(record, "call")["runId"])
    assert child["outputs"]["SEEN"] == "running"


def test_child_params_see_the_steps_own_env(cli, write) -> None:
    write(
        "envp.yaml",
        """
        name: envp
        steps:
          - name: a
            env:
              X: from-step-env
            run: child
            params: "P=${X}"
            output: R
        ---
        name: child
        params:
          - P: ""
        steps:
          - name: show
            command: echo "${P}"
            output: OUT
        """,
    )
    assert cli("start", "envp.yaml").code == 0
    record = json.loads(cli("status", "envp", "--json").out)
    assert json.loads(record["outputs"]["R"])["outputs"] == {"OUT": "from-step-env"}


# ------------------------------------------------------------------ children that do not block


def _wait_for_status(cli, run_id: str, *, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def,type-arg]
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = cli("status", "report", "--run-id", run_id, "--json")
        if result.code == 0:
            record = json.loads(result.out)
            if record["status"] not in ("queued", "running"):
                return dict(record)
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never ended")


def test_a_step_that_does_not_wait_starts_a_root_run_of_its_own(cli, write, tmp_path) -> None:
    (tmp_path / "report.yaml").write_text(
        textwrap.dedent(
            """
            name: report
            params:
              - DAY: none
            steps:
              - name: write
                command: sh -c 'sleep 0.3; printf "%s" "$1" > report.out' _ "$DAY"
            """
        )
    )
    source = write(
        "nightly.yaml",
        """
        name: nightly
        steps:
          - name: kick
            run: report
            params: "DAY='$(touch pwned) 2026'"
            wait: false
            output: REPORT_RUN
          - name: after
            command: echo "went on with ${REPORT_RUN}"
        """,
    )
    result = cli("start", source)
    assert result.code == 0, result.out + result.err
    parent = status_json(cli, "nightly")
    kick = parent["steps"][0]
    child_id = kick["output"]
    assert parent["outputs"]["REPORT_RUN"] == child_id
    assert parent["children"] == []  # not a child: a run of its own
    child = _wait_for_status(cli, child_id)
    assert child["status"] == "succeeded", child
    assert child["parentRunId"] is None and child["rootRunId"] == child_id
    assert (tmp_path / "report.out").read_text() == "$(touch pwned) 2026"
    assert not (tmp_path / "pwned").exists()
    # plait status links them both ways, as the API does
    assert child["startedBy"] == {"runId": parent["runId"], "step": "kick", "name": "nightly"}
    assert status_json(cli, "nightly")["started"] == [
        {"runId": child_id, "step": "kick", "name": "report", "status": "succeeded"}
    ]
    assert parent["startedBy"] is None and child["started"] == []
    shown = cli("status", "nightly").out
    assert f"started: report run {child_id} by step kick (not waited for): succeeded" in shown
    shown = cli("status", "report", "--run-id", child_id).out
    assert f"started by: nightly run {parent['runId']}, step kick (it did not wait)" in shown
    # a retry of the parent does not start it again (the step kept; the same id if re-run)
    from plait.runtime.children import detached_run_id

    assert child_id == detached_run_id(parent["runId"], "kick", 1)
    history = cli("history", "report", "--json")
    assert len(json.loads(history.out)) == 1


def test_a_stop_of_the_parent_leaves_the_run_it_started(cli, write, tmp_path, home) -> None:
    import subprocess
    import time

    (tmp_path / "report.yaml").write_text(
        "name: report\nsteps:\n  - name: slow\n    command: sleep 1.5\n"
    )
    source = write(
        "nightly.yaml",
        """
        name: nightly
        steps:
          - name: kick
            run: report
            wait: false
          - name: long
            command: sleep 60
        """,
    )
    parent = subprocess.Popen(
        [sys.executable, "-m", "plait", "start", "-q", str(source)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = cli("status", "report", "--json")
            if found.code == 0 and json.loads(found.out)["status"] == "running":
                break
            time.sleep(0.1)
        child_id = json.loads(cli("status", "report", "--json").out)["runId"]
        assert cli("stop", "nightly").code == 0
        assert parent.wait(timeout=60) != 0
    finally:
        parent.kill()
        parent.wait()
    assert status_json(cli, "nightly")["status"] == "cancelled"
    child = _wait_for_status(cli, child_id)
    assert child["status"] == "succeeded"


def test_a_stop_with_started_also_stops_the_runs_it_started_at_any_depth(
    cli, write, tmp_path
) -> None:
    import subprocess
    import time

    # nightly starts report without waiting; a run: child of report starts deeper the same way
    (tmp_path / "deeper.yaml").write_text("name: deeper\nsteps:\n  - command: sleep 60\n")
    (tmp_path / "inner.yaml").write_text(
        "name: inner\nsteps:\n  - name: kick\n    run: deeper\n    wait: false\n"
        "  - name: hold\n    command: sleep 60\n    depends: kick\n"
    )
    (tmp_path / "report.yaml").write_text("name: report\nsteps:\n  - name: inner\n    run: inner\n")
    (tmp_path / "other.yaml").write_text("name: other\nsteps:\n  - command: sleep 60\n")
    source = write(
        "nightly.yaml",
        """
        name: nightly
        steps:
          - name: kick
            run: report
            wait: false
          - name: long
            command: sleep 60
        """,
    )
    parent = subprocess.Popen(
        [sys.executable, "-m", "plait", "start", "-q", str(source)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    unrelated = subprocess.Popen(
        [sys.executable, "-m", "plait", "start", "-q", str(tmp_path / "other.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        ids: dict[str, str] = {}
        while time.monotonic() < deadline and len(ids) < 3:
            for name in ("report", "deeper", "other"):
                found = cli("status", name, "--json")
                if found.code == 0 and json.loads(found.out)["status"] == "running":
                    ids[name] = json.loads(found.out)["runId"]
            time.sleep(0.1)
        assert set(ids) == {"report", "deeper", "other"}, ids
        stopped = cli("stop", "nightly", "--started")
        assert stopped.code == 0, stopped.err
        assert parent.wait(timeout=60) != 0
    finally:
        parent.kill()
        parent.wait()
    try:
        assert status_json(cli, "nightly")["status"] == "cancelled"
        for name in ("report", "deeper"):
            assert f"{name} run {ids[name]}: cancelled" in stopped.out
            record = status_json(cli, name, "--run-id", ids[name])
            assert record["status"] == "cancelled"
        # a run that nightly did not start is not touched
        assert status_json(cli, "other")["status"] == "running"
        again = cli("stop", "--run-id", status_json(cli, "nightly")["runId"], "--started")
        assert again.code == 0 and "nothing to stop" in again.out
    finally:
        cli("stop", "other")
        unrelated.kill()
        unrelated.wait()


def test_wait_false_needs_run_and_no_parallel(cli, write) -> None:
    for body, message in (
        ("command: echo hi\n    wait: false", "`wait: false` needs `run`"),
        ("run: other\n    parallel: [a]\n    wait: false", "cannot be combined with `parallel`"),
        (
            "action: dag.enqueue\n    with: {dag: other}",
            "unknown field `action` (a step action of later Dagu versions); to start a "
            "workflow without waiting for it, write `run: NAME` with `wait: false`",
        ),
    ):
        source = write("bad.yaml", f"name: bad\nsteps:\n  - name: s\n    {body}\n")
        result = cli("validate", source)
        assert result.code == 1 and message in result.err, result.err
        assert f"{source}:" in result.err
