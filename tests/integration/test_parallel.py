"""Parallel fan-out (``parallel:``): item forms, concurrency bounds, order, failures, records.

Everything goes through the real CLI in this process, with real subprocesses and SQLite.
"""

from __future__ import annotations

import json

import pytest


def status_json(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("status", *args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def children_of(record: dict, step: str) -> list[dict]:  # type: ignore[type-arg]
    found = [c for c in record["children"] if c["step"] == step]
    return sorted(found, key=lambda c: c["itemIndex"])


def max_overlap(runs: list[dict]) -> int:  # type: ignore[type-arg]
    """The largest number of runs that were running at the same instant."""
    events = sorted(
        [(r["startedAt"], 1) for r in runs] + [(r["finishedAt"], -1) for r in runs],
        key=lambda e: (e[0], e[1]),  # an end at the same instant as a start counts first
    )
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


ECHO_CHILD = """
---
name: echo-child
params:
  - X: none
steps:
  - name: echo
    command: echo "got ${X}"
    output: GOT
"""


def start_ok(cli, source) -> dict:  # type: ignore[no-untyped-def]
    result = cli("start", source)
    assert result.code == 0, result.out + result.err
    return result


# ---------------------------------------------------------------- item forms


@pytest.mark.parametrize(
    "parallel",
    [
        "parallel: ${LIST}",
        "parallel:\n      items: ${LIST}",
        "parallel:\n      - alpha\n      - beta gamma\n      - delta",
        "parallel: ['alpha', 'beta gamma', 'delta']",
        'parallel: \'["alpha", "beta gamma", "delta"]\'',
        "parallel:\n      items: [alpha, beta gamma, delta]\n      maxConcurrent: 2",
    ],
    ids=["var", "items-var", "yaml-list", "flow-list", "json-text", "map"],
)
def test_parallel_forms_run_the_child_once_per_item_in_order(cli, write, parallel) -> None:
    text = (
        'name: fan\nparams:\n  - LIST: \'["alpha", "beta gamma", "delta"]\'\nsteps:\n'
        f"  - name: each\n    run: echo-child\n    {parallel}\n    params: X=${{ITEM}}\n"
        "    output: RESULTS\n" + ECHO_CHILD
    )
    start_ok(cli, write("fan.yaml", text))
    record = status_json(cli, "fan")
    children = children_of(record, "each")
    assert [c["item"] for c in children] == ["alpha", "beta gamma", "delta"]
    assert [c["itemIndex"] for c in children] == [0, 1, 2]
    assert {c["name"] for c in children} == {"echo-child"}
    results = json.loads(record["outputs"]["RESULTS"])
    assert results["summary"] == {"total": 3, "succeeded": 3, "failed": 0}
    assert results["outputs"] == [
        {"GOT": "got alpha"},
        {"GOT": "got beta gamma"},
        {"GOT": "got delta"},
    ]
    assert [r["params"] for r in results["results"]] == [
        {"X": "alpha"},
        {"X": "beta gamma"},
        {"X": "delta"},
    ]
    assert [r["runId"] for r in results["results"]] == [c["runId"] for c in children]


def test_items_from_a_previous_steps_json_array_output(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: discover
            command: python3 -c 'import json; print(json.dumps(["f1.csv", "f2.csv", "f3.csv"]))'
            output: TASKS
          - name: each
            run: echo-child
            parallel:
              items: ${TASKS}
              maxConcurrent: 1
            params: "X=${ITEM}"
            output: RESULTS
        """
        + ECHO_CHILD,
    )
    start_ok(cli, source)
    record = status_json(cli, "fan")
    assert [c["item"] for c in children_of(record, "each")] == ["f1.csv", "f2.csv", "f3.csv"]
    outputs = json.loads(record["outputs"]["RESULTS"])["outputs"]
    assert outputs == [{"GOT": "got f1.csv"}, {"GOT": "got f2.csv"}, {"GOT": "got f3.csv"}]


def test_items_from_a_previous_steps_output_one_per_line(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: discover
            command: printf 'one\\n\\n  two words  \\nthree\\n'
            output: TASKS
          - name: each
            run: echo-child
            parallel: ${TASKS}
            params: "X=${ITEM}"
            output: RESULTS
        """
        + ECHO_CHILD,
    )
    start_ok(cli, source)
    record = status_json(cli, "fan")
    assert [c["item"] for c in children_of(record, "each")] == ["one", "two words", "three"]


def test_object_items_are_read_with_item_field(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        params:
          - TARGETS: '[{"host": "a.example", "port": 80}, {"host": "b.example", "port": 8080}]'
        steps:
          - name: by-var
            run: pair
            parallel: ${TARGETS}
            params: "HOST=${ITEM.host} PORT=${ITEM.port} WHOLE=${ITEM}"
            output: FROM_VAR
          - name: inline
            command: echo "${ITEM.name}=${ITEM.size}"
            parallel:
              - name: small
                size: 1
              - name: big
                size: 100
            output: FROM_LIST
        ---
        name: pair
        params:
          - HOST: ""
          - PORT: ""
          - WHOLE: ""
        steps:
          - name: show
            command: >-
              python3 -c 'import json, os; env = os.environ;
              print(env["HOST"], env["PORT"], json.loads(env["WHOLE"])["host"])'
            output: SHOWN
        """,
    )
    start_ok(cli, source)
    outputs = status_json(cli, "fan")["outputs"]
    assert json.loads(outputs["FROM_VAR"])["outputs"] == [
        {"SHOWN": "a.example 80 a.example"},
        {"SHOWN": "b.example 8080 b.example"},
    ]
    assert json.loads(outputs["FROM_LIST"])["outputs"] == [
        {"FROM_LIST": "small=1"},
        {"FROM_LIST": "big=100"},
    ]


def test_item_is_available_in_the_command_of_a_command_fan_out(cli, write, tmp_path) -> None:
    source = write(
        "fan.yaml",
        """
        name: resource-aware-pipeline
        params:
          - FILE_LIST: '["a.txt","b.txt","c.txt"]'
          - PREFIX: done
        steps:
          - name: io-intensive
            parallel:
              items: ${FILE_LIST}
              maxConcurrent: 3
            command: sh -c 'echo "${PREFIX} $1" > "$1"; echo "${PREFIX} $1"' _ ${ITEM}
            output: PROCESSED
        """,
    )
    start_ok(cli, source)
    record = status_json(cli, "resource-aware-pipeline")
    for name in ("a.txt", "b.txt", "c.txt"):
        assert (tmp_path / name).read_text() == f"done {name}\n"
    result = json.loads(record["outputs"]["PROCESSED"])
    assert result["summary"] == {"total": 3, "succeeded": 3, "failed": 0}
    assert result["outputs"] == [
        {"PROCESSED": "done a.txt"},
        {"PROCESSED": "done b.txt"},
        {"PROCESSED": "done c.txt"},
    ]
    children = children_of(record, "io-intensive")
    assert [c["item"] for c in children] == ["a.txt", "b.txt", "c.txt"]
    logs = cli("logs", "--run-id", children[2]["runId"], "--step", "io-intensive")
    assert logs.code == 0, logs.err
    assert logs.out == "done c.txt\n"


def test_outputs_of_a_fan_out_render_as_json_a_program_can_parse(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: map
            command: echo "did ${ITEM}"
            parallel: [x, "y z", x]
            output: MAP_RESULTS
          - name: reduce
            command: |
              python3 -c '
              import json, sys
              outputs = json.loads(sys.argv[1])
              print("|".join(o["MAP_RESULTS"] for o in outputs))
              ' '${MAP_RESULTS.outputs}'
            output: REDUCED
        """,
    )
    start_ok(cli, source)
    assert status_json(cli, "fan")["outputs"]["REDUCED"] == "did x|did y z|did x"


def test_paths_into_a_fan_out_result_read_the_same_in_the_run_and_after_a_retry(
    cli, write, tmp_path
) -> None:
    # The run that made the result reads paths in it through the places it kept; the retry
    # reads the stored result and parses it. Both give the same values, byte for byte.
    flag = tmp_path / "fail-once"
    flag.write_text("")
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: map
            run: echo-child
            parallel: [a, "é \\"q\\" $(x)", a]
            params: X=${ITEM}
            output: R
          - name: read
            command: >-
              printf '%s|' '${R.summary.total}' '${R.outputs[1].GOT}' '${R.outputs.2}'
              '${R.results[-1].params.X}' '${R.outputs[3].GOT}' '${R.summary}'
              '${R.outputs:0:12}'
            output: READ
          - name: gate
            command: sh -c 'if [ -f "$0" ]; then rm "$0"; exit 1; fi' FLAG
            output: GATE
        """.replace("FLAG", str(flag))
        + ECHO_CHILD,
    )
    first = cli("start", source)
    assert first.code == 1, first.out + first.err
    expected = (
        '3|got é "q" $(x)|{"GOT": "got a"}|a|${R.outputs[3].GOT}'
        '|{"total": 3, "succeeded": 3, "failed": 0}|[{"GOT": "go|'
    )
    record = status_json(cli, "fan")
    assert record["outputs"]["READ"] == expected
    retried = cli("retry", "--run-id", record["runId"], "--step", "read", "--downstream")
    assert retried.code == 0, retried.out + retried.err
    assert status_json(cli, "fan")["outputs"]["READ"] == expected


def test_duplicate_items_each_run_and_count(cli, write) -> None:
    source = write(
        "fan.yaml",
        "name: fan\nsteps:\n  - name: each\n    run: echo-child\n    parallel: [a, b, a, a]\n"
        "    params: X=${ITEM}\n    output: R\n" + ECHO_CHILD,
    )
    start_ok(cli, source)
    record = status_json(cli, "fan")
    children = children_of(record, "each")
    assert [c["item"] for c in children] == ["a", "b", "a", "a"]
    assert len({c["runId"] for c in children}) == 4
    result = json.loads(record["outputs"]["R"])
    assert result["summary"] == {"total": 4, "succeeded": 4, "failed": 0}
    assert [o["GOT"] for o in result["outputs"]] == ["got a", "got b", "got a", "got a"]


def test_empty_item_list_runs_nothing_and_succeeds(cli, write) -> None:
    source = write(
        "fan.yaml",
        "name: fan\nparams:\n  - L: '[]'\nsteps:\n  - name: each\n    command: echo ${ITEM}\n"
        "    parallel: ${L}\n    output: R\n",
    )
    start_ok(cli, source)
    record = status_json(cli, "fan")
    assert record["children"] == []
    assert json.loads(record["outputs"]["R"])["summary"] == {
        "total": 0,
        "succeeded": 0,
        "failed": 0,
    }


# ---------------------------------------------------------------- concurrency


def test_default_max_concurrent_is_10(cli, write) -> None:
    items = json.dumps([str(i) for i in range(13)])
    source = write(
        "fan.yaml",
        f"name: fan\nsteps:\n  - name: each\n    command: sleep 0.3\n    parallel: '{items}'\n",
    )
    start_ok(cli, source)
    children = children_of(status_json(cli, "fan"), "each")
    assert len(children) == 13
    assert max_overlap(children) == 10


def test_max_concurrent_bounds_running_items(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: each
            run: napper
            parallel:
              items: [1, 2, 3, 4, 5, 6]
              maxConcurrent: 2
            params: N=${ITEM}
        ---
        name: napper
        params:
          - N: "0"
        steps:
          - name: nap
            command: sleep 0.15
        """,
    )
    start_ok(cli, source)
    children = children_of(status_json(cli, "fan"), "each")
    assert len(children) == 6
    assert max_overlap(children) == 2


# ---------------------------------------------------------------- failures


def test_failed_item_fails_the_step_after_running_items_finish(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: each
            command: sh -c 'case $1 in slow) sleep 0.4;; bad) exit 3;; esac; echo ok-$1' _ ${ITEM}
            parallel:
              items: [slow, bad, later, last]
              maxConcurrent: 2
            output: R
          - name: after
            command: echo never
        """,
    )
    result = cli("start", source)
    assert result.code == 1
    record = status_json(cli, "fan")
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["each"]["status"] == "failed"
    assert steps["after"]["status"] == "upstream_failed"
    assert "1 of 4 items failed" in steps["each"]["error"]
    every = {c["item"]: c for c in children_of(record, "each")}
    assert every["last"]["status"] == "not_started"  # a record, never started
    assert every["last"]["startedAt"] is None
    children = {k: c for k, c in every.items() if c["status"] != "not_started"}
    # `slow` was running when `bad` failed: it finished (and succeeded) before the step ended;
    # no item started after the failure.
    assert children["slow"]["status"] == "succeeded"
    assert children["bad"]["status"] == "failed"
    assert children["slow"]["finishedAt"] <= steps["each"]["finishedAt"]
    assert set(children) <= {"slow", "bad", "later"}
    for child in children.values():
        assert child["startedAt"] <= children["bad"]["finishedAt"]
    outcome = json.loads(steps["each"]["output"])
    started = len(children)
    assert outcome["summary"] == {"total": 4, "succeeded": started - 1, "failed": 1}
    assert [r["status"] for r in outcome["results"]][-1] == "not_started"


def test_with_max_concurrent_1_nothing_starts_after_a_failure(cli, write, tmp_path) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: each
            command: sh -c 'echo $1 >> ran.txt; test $1 != two' _ ${ITEM}
            parallel:
              items: [one, two, three, four]
              maxConcurrent: 1
            output: R
        """,
    )
    assert cli("start", source).code == 1
    assert (tmp_path / "ran.txt").read_text().split() == ["one", "two"]
    record = status_json(cli, "fan")
    children = children_of(record, "each")
    assert [(c["item"], c["status"]) for c in children] == [
        ("one", "succeeded"),
        ("two", "failed"),
        ("three", "not_started"),
        ("four", "not_started"),
    ]
    outcome = json.loads(record["steps"][0]["output"])
    assert outcome["summary"] == {"total": 4, "succeeded": 1, "failed": 1}
    assert [r["status"] for r in outcome["results"]] == [
        "succeeded",
        "failed",
        "not_started",
        "not_started",
    ]
    assert [r.get("item") for r in outcome["results"][2:]] == ["three", "four"]
    assert [r["runId"] for r in outcome["results"]] == [c["runId"] for c in children]


def test_a_fail_fast_fan_out_records_the_items_it_never_started_and_a_retry_runs_them(
    cli, write, tmp_path
) -> None:
    """300 items failing at item 17: 17 succeeded, 1 failed, 282 not_started, each a record;
    a retry runs the failed one and the 282 under their ids, and none of the 17 again."""
    flag = tmp_path / "broken"
    flag.write_text("")
    source = write(
        "fan.yaml",
        f"""
        name: fan
        steps:
          - name: each
            command: sh -c 'echo $1 >> ran.txt; test $1 != 17 || test ! -e {flag}' _ ${{ITEM}}
            parallel:
              items: {json.dumps(list(range(300)))}
              maxConcurrent: 1
        """,
    )
    assert cli("start", source).code == 1
    record = status_json(cli, "fan")
    assert record["childCounts"]["each"] == {"succeeded": 17, "failed": 1, "not_started": 282}
    page = cli("status", "fan", "--json")
    assert page.code == 0
    outcome = json.loads(record["steps"][0]["output"])
    assert outcome["summary"] == {"total": 300, "succeeded": 17, "failed": 1}
    ids = [r["runId"] for r in outcome["results"]]
    assert None not in ids and len(set(ids)) == 300
    flag.unlink()
    retried = cli("retry", "fan", "--run-id", record["runId"])
    assert retried.code == 0, retried.out + retried.err
    ran = (tmp_path / "ran.txt").read_text().split()
    assert ran == [str(n) for n in range(18)] + [str(n) for n in range(17, 300)]
    after = status_json(cli, "fan", "--run-id", record["runId"])
    assert after["childCounts"]["each"] == {"succeeded": 300}
    outcome = json.loads(after["steps"][0]["output"])
    assert [r["runId"] for r in outcome["results"]] == ids
    assert {r["status"] for r in outcome["results"]} == {"succeeded"}
    attempts = [status_json(cli, "each", "--run-id", ids[n])["attempt"] for n in (16, 17, 18)]
    assert attempts == [1, 2, 1]  # item 18 ran once


def test_failed_child_item_result_and_error_name_the_child(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: each
            run: picky
            parallel:
              items: [good, bad]
              maxConcurrent: 1
            params: X=${ITEM}
        ---
        name: picky
        params:
          - X: ""
        steps:
          - name: check
            command: test "${X}" = good
        """,
    )
    assert cli("start", source).code == 1
    record = status_json(cli, "fan")
    bad = children_of(record, "each")[1]
    assert bad["status"] == "failed"
    assert bad["runId"] in record["steps"][0]["error"]
    child = status_json(cli, "--run-id", bad["runId"])
    assert child["steps"][0]["status"] == "failed"
    assert child["parentStep"] == "each" and child["item"] == "bad"


# ---------------------------------------------------------------- tree and records


def test_many_children_are_summarised_in_the_final_tree(cli, write) -> None:
    items = json.dumps(list(range(100)))
    source = write(
        "fan.yaml",
        f"""
        name: fan
        steps:
          - name: each
            command: sh -c 'test $1 != 17 && test $1 != 63' _ ${{ITEM}}
            parallel:
              items: '{items}'
              maxConcurrent: 25
            continueOn:
              failure: true
        """,
    )
    result = cli("start", source)
    assert result.code == 3  # partially succeeded (see cli/exit_codes.py)
    assert "100 runs: 2 failed, 98 succeeded" in result.out
    failed_lines = [line for line in result.out.splitlines() if "failed" in line and "run " in line]
    assert any("[17] 17" in line for line in failed_lines)
    assert any("[63] 63" in line for line in failed_lines)
    assert len(result.out.splitlines()) < 30
    record = status_json(cli, "fan")
    assert record["status"] == "partially_succeeded"
    assert len(record["children"]) == 100
    # continueOn belongs to the step as a whole: each failed item still counts as failed.
    step = record["steps"][0]
    assert step["status"] == "failed"
    assert step["error"].startswith("2 of 100 items failed")
    assert json.loads(step["output"])["summary"] == {"total": 100, "succeeded": 98, "failed": 2}


def test_fan_out_of_child_workflows_nested_two_levels(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: regions
        params:
          - REGIONS: '["us", "eu"]'
        steps:
          - name: scatter
            run: region
            parallel: ${REGIONS}
            params: REGION=${ITEM}
            output: ALL
        ---
        name: region
        params:
          - REGION: ""
        steps:
          - name: zones
            run: zone
            parallel: [a, b]
            params: ZONE=${REGION}-${ITEM}
            output: ZONES
          - name: count
            command: echo "${REGION}:${ZONES.summary.total}"
            output: COUNT
        ---
        name: zone
        params:
          - ZONE: ""
        steps:
          - name: ping
            command: echo "pong ${ZONE}"
            output: PONG
        """,
    )
    start_ok(cli, source)
    root = status_json(cli, "regions")
    everything = json.loads(root["outputs"]["ALL"])
    assert [o["COUNT"] for o in everything["outputs"]] == ["us:2", "eu:2"]
    region = children_of(root, "scatter")[1]
    region_run = status_json(cli, "--run-id", region["runId"])
    zones = children_of(region_run, "zones")
    assert [z["item"] for z in zones] == ["a", "b"]
    zone_run = status_json(cli, "--run-id", zones[1]["runId"])
    assert zone_run["outputs"] == {"PONG": "pong eu-b"}
    assert zone_run["rootRunId"] == root["runId"]
    assert zone_run["parentRunId"] == region["runId"]
    logs = cli("logs", "--run-id", zone_run["runId"], "--step", "ping")
    assert logs.out == "pong eu-b\n"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("parallel", "line", "message"),
    [
        ("parallel: '[1, 2'", 4, "not a valid JSON array"),
        ("parallel:\n      items: 5", 5, "must be a list"),
        ("parallel:\n      items: [a]\n      maxConcurrent: 0", 6, ">= 1"),
        ("parallel:\n      items: [a]\n      maxConcurrent: -2", 6, ">= 1"),
        ("parallel:\n      maxConcurrent: 2", 4, "items"),
        ("parallel:\n      items: {file: a, command: b}", 5, "one of `file` or `command`"),
        ("parallel:\n      items: {path: a}", 5, "unknown field `path`"),
        ("parallel:\n      items: {file: ''}", 5, "`file` must be a non-empty string"),
    ],
    ids=["broken-json", "number", "zero", "negative", "no-items", "two", "unknown", "empty"],
)
def test_bad_parallel_is_a_validation_error_with_file_and_line(
    cli, write, parallel, line, message
) -> None:
    source = write(
        "bad.yaml",
        f"name: bad\nsteps:\n  - name: each\n    {parallel}\n    command: echo ${{ITEM}}\n",
    )
    result = cli("validate", source)
    assert result.code == 1
    assert "Traceback" not in result.err
    assert f"{source}:{line}:" in result.err
    assert message in result.err
    started = cli("start", source)
    assert started.code == 1
    assert f"{source}:{line}:" in started.err


def test_text_items_split_as_the_reference_splits_them(cli, write, tmp_path) -> None:
    source = write(
        "fan.yaml",
        f"""
        name: fan
        steps:
          - name: make
            command: echo '{{"a" 1}}' | tr ' ' ':'
            output: OBJECT
          - name: one-object
            command: printf '%s\\n' "${{ITEM}}" >> {tmp_path}/object.txt
            parallel: ${{OBJECT}}
          - name: commas
            command: printf '%s\\n' "${{ITEM}}" >> {tmp_path}/commas.txt
            parallel: "x, y,z"
          - name: words
            command: printf '%s\\n' "${{ITEM}}" >> {tmp_path}/words.txt
            parallel: $WORDS
        params:
          - WORDS: "p q  r"
        """,
    )
    result = cli("start", source)
    assert result.code == 0, result.out + result.err
    assert (tmp_path / "object.txt").read_text() == '{"a": 1}\n'  # one JSON object: one item
    assert sorted((tmp_path / "commas.txt").read_text().split()) == ["x", "y", "z"]
    assert sorted((tmp_path / "words.txt").read_text().split()) == ["p", "q", "r"]


def test_children_starting_while_the_agent_beats_are_not_taken_for_lost(plait_bin, write) -> None:  # type: ignore[no-untyped-def]
    """A child is covered by its agent's heartbeat only once the store holds it: a beat that
    falls between a child's start and its first write must not cancel it as "lease lost".
    A short lease makes the agent beat every 0.4 s, so hundreds of children start across beats
    (short, but not so short that a busy machine's pause in a beat trips the fence)."""
    write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: list
            command: seq 1 600
            output: ITEMS
          - name: map
            run: item
            parallel:
              items: ${ITEMS}
              maxConcurrent: 20
            params: "N=${ITEM}"
        ---
        name: item
        params:
          - N: "0"
        steps:
          - name: emit
            command: echo ${N}
        """,
    )
    result = plait_bin("start", "fan.yaml", timeout=300, env={"PLAIT_LEASE_SECONDS": "2.4"})
    assert result.code == 0, result.out + result.err
    assert "lease lost" not in result.out


# ---------------------------------------------------------------- retries of items


def test_retry_policy_retries_each_failed_item_while_the_others_keep_starting(
    cli, write, tmp_path
) -> None:
    # With one slot: the flaky item fails, waits for its retry without holding the slot, the
    # other items run meanwhile, then it runs again as the next attempt of its own child run.
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: each
            command: >-
              sh -c 'echo $1 >> ran.txt;
              if [ $1 = flaky ] && [ ! -e flaky.mark ]; then touch flaky.mark; exit 4; fi;
              echo ok-$1' _ ${ITEM}
            parallel:
              items: [flaky, b, c]
              maxConcurrent: 1
            retryPolicy: {limit: 2, intervalSec: 4}
            output: R
        """,
    )
    start_ok(cli, source)
    assert (tmp_path / "ran.txt").read_text().split() == ["flaky", "b", "c", "flaky"]
    record = status_json(cli, "fan")
    step = record["steps"][0]
    assert step["status"] == "succeeded" and step["attempt"] == 1, step
    children = children_of(record, "each")
    assert [c["item"] for c in children] == ["flaky", "b", "c"]  # one child run per item
    flaky = status_json(cli, "--run-id", children[0]["runId"])
    assert flaky["status"] == "succeeded" and flaky["attempt"] == 2, flaky
    # its times are the attempt's that ran, not stretched over the 4 s wait before it
    assert flaky["startedAt"] >= children[2]["startedAt"]
    assert flaky["steps"][0]["startedAt"] >= flaky["startedAt"]
    assert [json.loads(step["output"])["outputs"][i]["R"] for i in range(3)] == [
        "ok-flaky",
        "ok-b",
        "ok-c",
    ]


def test_an_item_retried_to_its_limit_or_failing_with_another_exit_code_fails_the_step(
    cli, write, tmp_path
) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: each
            command: >-
              sh -c 'echo $1 >> ran.txt; case $1 in always) exit 4;; other) exit 5;; esac'
              _ ${ITEM}
            parallel:
              items: [always, other, fine]
              maxConcurrent: 3
            retryPolicy: {limit: 2, intervalSec: 0, exitCode: [4]}
            continueOn: {failure: true}
        """,
    )
    assert cli("start", source).code != 0  # partially succeeded
    ran = (tmp_path / "ran.txt").read_text().split()
    assert sorted(ran) == ["always", "always", "always", "fine", "other"]
    record = status_json(cli, "fan")
    attempts = {
        c["item"]: status_json(cli, "--run-id", c["runId"])["attempt"]
        for c in children_of(record, "each")
    }
    assert attempts == {"always": 3, "other": 1, "fine": 1}
    assert "2 of 3 items failed" in record["steps"][0]["error"]


# ---------------------------------------------------------------- no deadlock


def test_a_parent_waiting_on_its_children_holds_no_slot_they_need(cli, write, home) -> None:
    # The parent, its children and grandchildren all name a queue of capacity 1, and the
    # parent allows one active step: children run inside their parent's slot, so the tree
    # ends instead of waiting on itself.
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("queues:\n  - name: solo\n    maxConcurrency: 1\n")
    source = write(
        "tree.yaml",
        """
        name: tree
        queue: solo
        maxActiveSteps: 1
        steps:
          - name: each
            run: middle
            parallel: {items: [1, 2, 3], maxConcurrent: 3}
          - name: after
            command: echo done
        ---
        name: middle
        queue: solo
        maxActiveRuns: 1
        maxActiveSteps: 1
        steps:
          - name: down
            run: leaf
            parallel: {items: [a, b], maxConcurrent: 2}
        ---
        name: leaf
        queue: solo
        maxActiveRuns: 1
        steps:
          - name: work
            command: echo leaf
        """,
    )
    start_ok(cli, source)  # through the queue's admission, as every root run
    record = status_json(cli, "tree")
    assert record["status"] == "succeeded", record
    middles = children_of(record, "each")
    assert len(middles) == 3 and all(m["status"] == "succeeded" for m in middles)
    for middle in middles:
        leaves = children_of(status_json(cli, "--run-id", middle["runId"]), "down")
        assert [leaf["status"] for leaf in leaves] == ["succeeded", "succeeded"]


# ---------------------------------------------------------------- items read as they go


def test_items_from_a_file_one_a_line_or_json_lines_arrive_as_data(cli, write, tmp_path) -> None:
    (tmp_path / "list.txt").write_text(
        'plain text\n\n  $(touch pwned) `touch pwned2`  \n{"name": "obj", "n": 2}\n[1, 2]\n'
    )
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: each
            command: printf '%s\\n' "$ITEM"
            parallel:
              items: {file: list.txt}
              maxConcurrent: 2
            output: R
        """,
    )
    start_ok(cli, source)
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    record = status_json(cli, "fan")
    outcome = json.loads(record["steps"][0]["output"])
    assert outcome["summary"] == {"total": 4, "succeeded": 4, "failed": 0}
    got = [
        cli("logs", "--run-id", c["runId"], "--step", "each").out
        for c in children_of(record, "each")
    ]
    assert got == [
        "plain text\n",
        "$(touch pwned) `touch pwned2`\n",
        '{"name": "obj", "n": 2}\n',
        "[1, 2]\n",
    ]


def test_items_from_a_json_array_file_and_a_missing_file(cli, write, tmp_path) -> None:
    (tmp_path / "items.json").write_text(json.dumps(["a", {"k": "v"}, "a"]))
    source = write(
        "fan.yaml",
        """
        name: fan
        params:
          - LIST: items.json
        steps:
          - name: each
            command: echo "$ITEM"
            parallel:
              items: {file: "${LIST}"}
        """,
    )
    start_ok(cli, source)
    outcome = json.loads(status_json(cli, "fan")["steps"][0]["output"])
    assert outcome["summary"] == {"total": 3, "succeeded": 3, "failed": 0}
    result = cli("start", source, "--", "LIST=nowhere.json")
    assert result.code == 1
    step = status_json(cli, "fan")["steps"][0]
    assert step["status"] == "failed"
    assert "nowhere.json: No such file or directory" in step["error"], step["error"]


def test_items_from_a_command_as_it_writes_them_and_its_failure(cli, write, tmp_path) -> None:
    """The items of a command are read as it writes them: the first items run before it
    has finished (it waits for a file the first item writes)."""
    source = write(
        "fan.yaml",
        f"""
        name: fan
        steps:
          - name: each
            command: sh -c 'echo "$1" >> {tmp_path}/ran; touch {tmp_path}/go' _ "$ITEM"
            parallel:
              items:
                command: >-
                  echo one; echo '{{"x": 1}}';
                  while [ ! -e {tmp_path}/go ]; do sleep 0.05; done; echo three
              maxConcurrent: 1
        """,
    )
    start_ok(cli, source)
    assert (tmp_path / "ran").read_text().split("\n")[:-1] == ["one", '{"x": 1}', "three"]
    broken = write(
        "broken.yaml",
        """
        name: broken
        steps:
          - name: each
            command: echo "$ITEM"
            parallel:
              items:
                command: echo a; echo b; echo 'no such table' >&2; exit 3
        """,
    )
    assert cli("start", broken).code == 1
    record = status_json(cli, "broken")
    step = record["steps"][0]
    assert step["error"] == (
        "parallel items: the items command exited with code 3: no such table"
    ), step["error"]
    assert [c["status"] for c in children_of(record, "each")] == ["succeeded", "succeeded"]


def test_a_fail_fast_fan_out_over_an_endless_command_ends_and_stops_the_command(cli, write) -> None:
    source = write(
        "fan.yaml",
        """
        name: fan
        steps:
          - name: each
            command: sh -c 'test "$1" -lt 5' _ "$ITEM"
            parallel:
              items: {command: "n=0; while true; do n=$((n+1)); echo $n; done"}
              maxConcurrent: 1
        """,
    )
    assert cli("start", source).code == 1
    record = status_json(cli, "fan")
    outcome = json.loads(record["steps"][0]["output"])
    assert outcome["summary"] == {"total": 5, "succeeded": 4, "failed": 1}
    assert "1 of 5 items failed" in record["steps"][0]["error"]
