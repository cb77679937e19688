"""Running workflows end to end through the real CLI, with real processes and a real store."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest


def status_json(cli, target: str, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("status", target, "--json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def steps_by_name(record: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {step["name"]: step for step in record["steps"]}


def test_one_step_run_is_recorded_with_status_output_and_times(cli, write) -> None:
    write(
        "hello.yaml",
        """
        name: hello
        steps:
          - name: greet
            command: echo "  hello world  "
            output: GREETING
    """,
    )
    result = cli("start", "hello.yaml")
    assert result.code == 0, result.err
    assert "greet" in result.out and "succeeded" in result.out
    record = status_json(cli, "hello")
    assert record["name"] == "hello"
    assert record["status"] == "succeeded"
    assert record["outputs"] == {"GREETING": "hello world"}
    step = record["steps"][0]
    assert step["status"] == "succeeded"
    assert step["exitCode"] == 0
    assert step["output"] == "hello world"
    assert record["startedAt"] <= step["startedAt"] <= step["finishedAt"] <= record["finishedAt"]


def test_failed_step_fails_run_and_blocks_only_its_dependents(cli, write) -> None:
    write(
        "f.yaml",
        """
        name: f
        type: graph
        steps:
          - name: a
            command: "true"
          - name: b
            command: exit 3
            depends: a
          - name: c
            command: "true"
            depends: b
          - name: independent
            command: "true"
    """,
    )
    result = cli("start", "f.yaml")
    assert result.code == 1
    steps = steps_by_name(status_json(cli, "f"))
    assert steps["b"]["status"] == "failed"
    assert steps["b"]["exitCode"] == 3
    assert steps["c"]["status"] == "upstream_failed"
    assert steps["independent"]["status"] == "succeeded"


def test_chain_runs_steps_in_order_and_stops_after_a_failure(cli, write, tmp_path: Path) -> None:
    write(
        "chain.yaml",
        """
        name: chain
        steps:
          - name: one
            command: echo 1 >> order.txt
          - name: two
            command: echo 2 >> order.txt
          - name: boom
            command: exit 1
          - name: never
            command: echo never >> order.txt
    """,
    )
    assert cli("start", "chain.yaml").code == 1
    assert (tmp_path / "order.txt").read_text().split() == ["1", "2"]
    assert steps_by_name(status_json(cli, "chain"))["never"]["status"] == "upstream_failed"


def test_fork_join_branches_run_at_the_same_time(cli, write) -> None:
    write(
        "fj.yaml",
        """
        name: fork-join-analysis
        steps:
          - name: prepare
            command: echo dataset.csv
            output: DATASET
          - name: statistical-analysis
            command: sleep 0.6; echo stats-${DATASET}
            depends: prepare
            output: STATS
          - name: ml-analysis
            command: sleep 0.6; echo ml-${DATASET}
            depends: prepare
            output: ML_RESULTS
          - name: visualization
            command: sleep 0.6; echo charts-${DATASET}
            depends: prepare
            output: CHARTS
          - name: generate-report
            command: echo "--stats=${STATS} --ml=${ML_RESULTS} --charts=${CHARTS}"
            output: REPORT
            depends:
              - statistical-analysis
              - ml-analysis
              - visualization
    """,
    )
    assert cli("start", "fj.yaml").code == 0
    record = status_json(cli, "fork-join-analysis")
    steps = steps_by_name(record)
    branches = [steps[n] for n in ("statistical-analysis", "ml-analysis", "visualization")]
    latest_start = max(s["startedAt"] for s in branches)
    earliest_end = min(s["finishedAt"] for s in branches)
    assert latest_start < earliest_end, "the three branches did not overlap"
    assert record["outputs"]["REPORT"] == (
        "--stats=stats-dataset.csv --ml=ml-dataset.csv --charts=charts-dataset.csv"
    )


def test_max_active_steps_bounds_parallel_steps(cli, write) -> None:
    write(
        "m.yaml",
        """
        name: m
        type: graph
        maxActiveSteps: 1
        steps:
          - name: a
            command: sleep 0.2
          - name: b
            command: sleep 0.2
          - name: c
            command: sleep 0.2
    """,
    )
    assert cli("start", "m.yaml").code == 0
    steps = sorted(status_json(cli, "m")["steps"], key=lambda s: s["startedAt"])
    for before, after in itertools.pairwise(steps):
        assert before["finishedAt"] <= after["startedAt"]


def test_step_references_output_stdout_stderr_exit_code(cli, write) -> None:
    write(
        "refs.yaml",
        """
        name: refs
        steps:
          - name: first
            id: f
            command: sh -c 'echo out; echo err >&2; exit 4'
            output: OUT
            continueOn:
              exitCode: [4]
          - name: second
            command: echo "${first.output}|${f.exit_code}|$(cat ${f.stdout})|$(cat ${f.stderr})"
            output: R
    """,
    )
    cli("start", "refs.yaml")
    assert status_json(cli, "refs")["outputs"]["R"] == "out|4|out|err"


def test_json_path_into_outputs_and_objects_render_as_json(cli, write) -> None:
    write(
        "j.yaml",
        """
        name: j
        steps:
          - name: make
            command: |
              echo '{"a": {"b": [10, 20]}, "name": "n1"}'
            output: J
          - name: use
            command: echo "${J.name} ${J.a.b[1]}" '${J.a}' '${J.nope}'
            output: R
    """,
    )
    assert cli("start", "j.yaml").code == 0
    assert status_json(cli, "j")["outputs"]["R"] == 'n1 20 {"b": [10, 20]} ${J.nope}'


def test_params_defaults_and_overrides(cli, write) -> None:
    write(
        "p.yaml",
        """
        name: p
        params:
          - A: one
          - B: "two words"
          - C: ${A}-c
        steps:
          - name: show
            command: echo "${A}|${B}|${C}"
            output: R
    """,
    )
    assert cli("start", "p.yaml").code == 0
    assert status_json(cli, "p")["outputs"]["R"] == "one|two words|one-c"
    assert cli("start", "--params", 'A=x B="y z"', "p.yaml").code == 0
    assert status_json(cli, "p")["outputs"]["R"] == "x|y z|x-c"
    assert cli("start", "p.yaml", "--", "B=after dash").code == 0
    record = status_json(cli, "p")
    assert record["outputs"]["R"] == "one|after dash|one-c"
    assert record["params"] == {"A": "one", "B": "after dash", "C": "one-c"}


def test_positional_params(cli, write) -> None:
    write(
        "pos.yaml",
        """
        name: pos
        params: "first second"
        steps:
          - name: show
            command: echo "$1-$2"
            output: R
    """,
    )
    assert cli("start", "pos.yaml").code == 0
    assert status_json(cli, "pos")["outputs"]["R"] == "first-second"


def test_env_in_order_with_backticks_and_step_env(cli, write) -> None:
    write(
        "e.yaml",
        """
        name: e
        env:
          - A: a1
          - B: ${A}x
          - C: "`echo sub-$A`"
        steps:
          - name: s
            env:
              B: step-b
            command: sh -c 'echo "$A $B $C"'
            output: S
          - name: t
            command: sh -c 'echo "$B"'
            output: T
    """,
    )
    assert cli("start", "e.yaml").code == 0
    outputs = status_json(cli, "e")["outputs"]
    assert outputs == {"S": "a1 step-b sub-a1", "T": "a1x"}


def test_special_variables(cli, write, home: Path) -> None:
    write(
        "sv.yaml",
        """
        name: sv
        steps:
          - name: show
            command: >-
              sh -c 'echo "$DAG_NAME|$DAG_RUN_ID|$DAG_RUN_STEP_NAME|$PLAIT_HOME";
              echo "$DAG_RUN_STEP_STDOUT_FILE|$DAG_RUN_STEP_STDERR_FILE"; echo "$DAG_RUN_LOG_FILE"'
            output: R
    """,
    )
    assert cli("start", "sv.yaml").code == 0
    record = status_json(cli, "sv")
    lines = record["outputs"]["R"].splitlines()
    assert lines[0] == f"sv|{record['runId']}|show|{home}"
    step = record["steps"][0]
    assert lines[1] == f"{step['stdoutFile']}|{step['stderrFile']}"
    assert Path(step["stdoutFile"]).is_file()  # it was written to
    assert not Path(step["stderrFile"]).exists()  # a stream that wrote nothing has no file
    assert lines[2].startswith(str(home))


def test_command_forms_list_block_script_and_shell(cli, write) -> None:
    write(
        "c.yaml",
        """
        name: c
        steps:
          - name: listed
            command: ["echo a b", "echo c | tr c C"]
            output: L
          - name: block
            command: |
              X=1
              echo "block $X"
            output: B
          - name: script
            script: |
              #!/bin/sh
              echo "script $1"
            output: S
          - name: shell
            shell: bash
            command: echo "${BASH_VERSION:+bash}"
            output: SH
          - name: python
            shell: python3
            script: |
              print("py", 6 * 7)
            output: PY
    """,
    )
    result = cli("start", "c.yaml")
    assert result.code == 0, result.out
    outputs = status_json(cli, "c")["outputs"]
    assert outputs == {
        "L": "a b\nC",
        "B": "block 1",
        "S": "script",
        "SH": "bash",
        "PY": "py 42",
    }


def test_multiline_command_fails_at_first_failing_line(cli, write, tmp_path: Path) -> None:
    write(
        "ml.yaml",
        """
        name: ml
        steps:
          - name: multi
            command: |
              echo line1 > ml.txt
              false
              echo after >> ml.txt
    """,
    )
    assert cli("start", "ml.yaml").code == 1
    assert (tmp_path / "ml.txt").read_text() == "line1\n"


def test_working_dir_and_stdout_stderr_files(cli, write, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(
        "w.yaml",
        """
        name: w
        steps:
          - name: where
            dir: sub
            command: pwd
            output: WHERE
          - name: redirected
            command: sh -c 'echo to-out; echo to-err >&2'
            stdout: logs/out.txt
            stderr: logs/err.txt
    """,
    )
    assert cli("start", "w.yaml").code == 0
    assert status_json(cli, "w")["outputs"]["WHERE"] == str(tmp_path / "sub")
    assert (tmp_path / "logs" / "out.txt").read_text() == "to-out\n"
    assert (tmp_path / "logs" / "err.txt").read_text() == "to-err\n"


def test_output_larger_than_max_output_size_fails_the_step(cli, write) -> None:
    write(
        "big.yaml",
        """
        name: big
        maxOutputSize: 10
        steps:
          - name: big
            command: echo 0123456789abcdef
            output: BIG
    """,
    )
    assert cli("start", "big.yaml").code == 1
    step = status_json(cli, "big")["steps"][0]
    assert step["status"] == "failed"
    assert "maxOutputSize" in step["error"]


def test_logs_and_history(cli, write) -> None:
    write(
        "l.yaml",
        """
        name: l
        steps:
          - name: talk
            command: sh -c 'echo to-stdout; echo to-stderr >&2'
    """,
    )
    assert cli("start", "l.yaml").code == 0
    assert cli("start", "l.yaml").code == 0
    assert cli("logs", "l", "--step", "talk").out == "to-stdout\n"
    assert cli("logs", "l", "--step", "talk", "--stderr").out == "to-stderr\n"
    history = json.loads(cli("history", "l", "--json").out)
    assert [run["status"] for run in history] == ["succeeded", "succeeded"]
    assert history[0]["runId"] != history[1]["runId"]
    table = cli("history", "l").out
    assert history[0]["runId"] in table


def test_run_id_option_and_status_by_run_id(cli, write) -> None:
    write(
        "r.yaml",
        """
        name: r
        steps:
          - name: s
            command: "true"
    """,
    )
    assert cli("start", "--run-id", "my-run-1", "r.yaml").code == 0
    assert status_json(cli, "r", "--run-id", "my-run-1")["runId"] == "my-run-1"
    missing = cli("status", "r", "--run-id", "nope")
    assert missing.code == 1
    assert "nope" in missing.err


def test_workflow_found_by_name_in_dags_folder(cli, write, home: Path, monkeypatch) -> None:
    dags = home / "dags"
    dags.mkdir(parents=True)
    (dags / "named.yaml").write_text("steps:\n  - name: s\n    command: echo found\n")
    result = cli("start", "named")
    assert result.code == 0, result.err
    assert "found" in result.out


def test_python_api_runs_text_and_files(home: Path, write) -> None:
    import plait

    record = plait.run(
        "name: api\nparams:\n  - X: default\nsteps:\n  - name: s\n    command: echo ${X}\n"
        "    output: OUT\n",
        params={"X": "given"},
    )
    assert record.status == "succeeded"
    assert record.outputs == {"OUT": "given"}
    workflow = plait.load(str(write("w.yaml", "steps:\n  - name: a\n    command: 'true'\n")))
    assert workflow.name == "w"
    assert [step.name for step in workflow.steps] == ["a"]


@pytest.mark.parametrize("status_word", ["succeeded", "failed"])
def test_start_prints_a_tree_with_step_output(cli, write, status_word: str) -> None:
    command = "echo shown-output" if status_word == "succeeded" else "sh -c 'echo bad >&2; exit 2'"
    write(
        "t.yaml",
        f"""
        name: t
        steps:
          - name: only
            command: {command}
    """,
    )
    result = cli("start", "t.yaml")
    assert status_word in result.out
    if status_word == "succeeded":
        assert "shown-output" in result.out
    else:
        assert "bad" in result.out and "exit 2" in result.out


def test_workflow_found_by_its_name_in_a_subfolder_of_the_dags_folder(cli, home: Path) -> None:
    folder = home / "dags" / "team"
    folder.mkdir(parents=True)
    (folder / "nightly-file.yaml").write_text(
        "name: nightly\nsteps:\n  - name: s\n    command: echo by-name\n"
    )
    result = cli("start", "nightly")
    assert result.code == 0, result.err
    assert "by-name" in result.out
    assert json.loads(cli("status", "nightly", "--json").out)["name"] == "nightly"
