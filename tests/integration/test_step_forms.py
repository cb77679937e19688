"""The reference's other ways of writing steps, run for real: steps without names, string
steps, nested lists (groups that run side by side), steps as a mapping, ids with ``-``,
``${1}``, ``output: {name, key, omit}``, ``type:`` + ``config:``, ``logOutput``, an init
handler skipped by its precondition, ``maxActiveRuns: -1``."""

from __future__ import annotations

import json
import subprocess
import sys
import time


def _status(cli, target: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = cli("status", target, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)  # type: ignore[no-any-return]


def test_string_steps_and_unnamed_steps_are_named_by_position(cli, write, tmp_path) -> None:
    write(
        "forms.yaml",
        f"""
        name: forms
        steps:
          - echo first
          - script: echo second
          - command: echo third
            depends: cmd_1
          - name: last
            command: echo "${{cmd_1.stdout}}" > {tmp_path}/path.txt
            depends: [script_2, cmd_3]
        """,
    )
    result = cli("start", "forms.yaml")
    assert result.code == 0, result.out + result.err
    record = _status(cli, "forms")
    assert [s["name"] for s in record["steps"]] == ["cmd_1", "script_2", "cmd_3", "last"]
    assert (tmp_path / "path.txt").read_text().strip() == record["steps"][0]["stdoutFile"]


def test_a_nested_list_is_a_group_that_runs_side_by_side(cli, write, tmp_path) -> None:
    # Each member waits for the other's file: they finish only if they run at the same time.
    a, b = tmp_path / "a", tmp_path / "b"
    wait = "for i in $(seq 1 200); do [ -f {0} ] && break; sleep 0.05; done; [ -f {0} ]"
    write(
        "group.yaml",
        f"""
        name: group
        steps:
          - echo before > {tmp_path}/order.txt
          - - name: left
              command: touch {a}; {wait.format(b)}; echo left >> {tmp_path}/order.txt
            - name: right
              command: touch {b}; {wait.format(a)}; echo right >> {tmp_path}/order.txt
          - name: after
            command: echo after >> {tmp_path}/order.txt
        """,
    )
    result = cli("start", "group.yaml")
    assert result.code == 0, result.out + result.err
    order = (tmp_path / "order.txt").read_text().split()
    assert order[0] == "before" and order[-1] == "after"
    assert sorted(order[1:3]) == ["left", "right"]


def test_steps_as_a_mapping_with_ids_holding_dashes(cli, write) -> None:
    write(
        "mapped.yaml",
        """
        name: mapped
        steps:
          fetch:
            id: fetch-data
            command: echo fetched
            output: DATA
          use:
            command: echo "got ${fetch-data.output}"
            depends: fetch-data
            output: USED
        """,
    )
    assert cli("start", "mapped.yaml").code == 0
    assert _status(cli, "mapped")["outputs"] == {"DATA": "fetched", "USED": "got fetched"}


def test_braced_positional_params_and_substrings(cli, write) -> None:
    write(
        "pos.yaml",
        """
        name: pos
        params: "first second"
        env:
          - FROM_PARAM: "${2}"
        steps:
          - name: show
            command: echo "${1}|$2|$FROM_PARAM"
            output: SHOWN
          - name: cut
            command: echo "${show.output:0:5}|${SHOWN:4}"
            output: CUT
        """,
    )
    assert cli("start", "pos.yaml", "--", "uno").code == 0
    outputs = _status(cli, "pos")["outputs"]
    assert outputs["SHOWN"] == "uno|second|${2}"  # env is evaluated before params
    assert outputs["CUT"] == "uno|s|second|${2}"


def test_output_under_another_key_or_kept_out_of_the_outputs(cli, write) -> None:
    write(
        "out.yaml",
        """
        name: out
        steps:
          - name: a
            command: echo one
            output: {name: ONE, key: first_value}
          - name: b
            command: echo two
            output: {name: TWO, omit: true}
          - name: c
            command: echo "${ONE}-${TWO}"
            output: BOTH
        """,
    )
    assert cli("start", "out.yaml").code == 0
    assert _status(cli, "out")["outputs"] == {"first_value": "one", "BOTH": "one-two"}


def test_type_and_config_and_the_shell_executor_names(cli, write) -> None:
    write(
        "typed.yaml",
        """
        name: typed
        steps:
          - name: shell
            type: shell
            command: echo via-shell
            output: A
          - name: command
            executor: command
            command: echo via-command
            output: B
        """,
    )
    assert cli("start", "typed.yaml").code == 0
    assert _status(cli, "typed")["outputs"] == {"A": "via-shell", "B": "via-command"}


def test_log_output_merged_puts_stderr_in_the_stdout_log(cli, write) -> None:
    write(
        "merged.yaml",
        """
        name: merged
        logOutput: merged
        steps:
          - name: both
            command: echo out; echo err >&2
        """,
    )
    assert cli("start", "merged.yaml").code == 0
    assert sorted(cli("logs", "merged", "--step", "both").out.split()) == ["err", "out"]


def test_an_init_handler_skipped_by_its_precondition_lets_the_run_go_on(cli, write) -> None:
    write(
        "init.yaml",
        """
        name: init
        handlerOn:
          init:
            command: echo never
            preconditions:
              - condition: "`echo no`"
                expected: "yes"
        steps:
          - name: work
            command: echo worked
        """,
    )
    assert cli("start", "init.yaml").code == 0
    record = _status(cli, "init")
    assert record["status"] == "succeeded"
    steps = {s["name"]: s["status"] for s in record["steps"]}
    assert steps == {"work": "succeeded", "onInit": "skipped"}


def test_max_active_runs_minus_one_never_queues(cli, write, tmp_path) -> None:
    path = write(
        "free.yaml",
        f"""
        name: free
        maxActiveRuns: -1
        steps:
          - name: hold
            command: touch {tmp_path}/$DAG_RUN_ID; sleep 2
        """,
    )
    first = subprocess.Popen([sys.executable, "-m", "plait", "start", "-q", str(path)])
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("0*"))) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        second = cli("start", "free.yaml", "--no-wait")
        assert second.code == 0, second.out + second.err  # started though the first runs
    finally:
        first.wait(timeout=60)


def test_a_step_with_nothing_to_run_is_a_load_error_with_file_and_line(cli, write) -> None:
    write(
        "empty.yaml",
        """
        name: empty
        steps:
          - name: nothing
            description: no command
          - command: ""
        """,
    )
    result = cli("validate", "empty.yaml")
    assert result.code == 1
    assert "empty.yaml:3: steps[0]: step `nothing` has nothing to run" in result.err
    assert "empty.yaml:5: steps[1].command: command is empty" in result.err
    assert "Traceback" not in result.err
