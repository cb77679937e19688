"""Typed child interfaces: params with types, required, defaults, choices and descriptions,
and the outputs a workflow declares; checked across files by ``validate``, before a start by
the CLI and the API (naming the param), and when a child run starts."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.servers import plait_server

CHILD = """
name: child
params:
  - name: COUNT
    type: integer
    required: true
    description: how many
  - name: MODE
    enum: [fast, slow]
    default: fast
  - name: RATIO
    type: number
    default: "0.5"
  - name: DRY
    type: boolean
    default: "false"
  - PLAIN: untyped
outputs: [TOTAL]
steps:
  - name: work
    command: echo "$COUNT $MODE $RATIO $DRY $PLAIN"
    output: TOTAL
"""


def test_validate_checks_what_a_run_step_passes_and_reads_across_files(cli, write) -> None:
    write("child.yaml", CHILD)
    parent = write(
        "parent.yaml",
        """
        name: parent
        steps:
          - name: good
            run: child
            params: "COUNT=3 MODE=slow"
            output: GOOD
          - name: later
            run: child
            params: "COUNT=${DYNAMIC} RATIO=abc"
          - name: missing
            run: child
            params: "MODE=medium"
          - name: use
            command: echo "${GOOD.outputs.TOTAL} ${GOOD.outputs.TOTL}"
          - name: kick
            run: child
            params: "COUNT=1"
            wait: false
            output: KICKED
          - name: after
            command: echo "${KICKED.outputs.TOTAL} ${KICKED}"
        handlerOn:
          failure:
            command: echo "${GOOD.outputs.TOTAL} ${GOOD.outputs.SUM}"
        """,
    )
    result = cli("validate", parent)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert any(  # a handler's text is checked like a step's
        "handlerOn.failure: step `onFailure` reads `SUM` of GOOD.outputs, but `child` declares "
        "only TOTAL" in line
        for line in lines
    ), lines
    assert any(  # a step that does not wait has no outputs to read, only the run's id
        "step `after` reads `TOTAL` of KICKED.outputs, but step `kick` does not wait for "
        "`child` (wait: false): KICKED is the id of the run it started" in line
        for line in lines
    ), lines
    lines = [line for line in lines if "`onFailure`" not in line and "`after`" not in line]
    assert (
        f"{parent}:7: steps[1].params: step `later`: child `child`: param RATIO must be a "
        "number, not 'abc'" in lines
    )  # COUNT=${DYNAMIC} is known only when it runs
    assert (
        f"{parent}:10: steps[2].params: step `missing`: child `child`: param COUNT is "
        "required" in lines
    )
    assert any("param MODE must be one of fast, slow, not 'medium'" in line for line in lines)
    assert any(
        "step `use` reads `TOTL` of GOOD.outputs, but `child` declares only TOTAL" in line
        for line in lines
    )
    assert not any("`good`" in line for line in lines)
    assert len(lines) == 4, result.err


def test_a_declared_output_no_step_gives_is_a_load_error_at_its_key(cli, write) -> None:
    source = write(
        "outs.yaml",
        "name: outs\noutputs: [TOTAL, COUNT, KEYED]\nsteps:\n"
        "  - command: echo 1\n    output: TOTL\n"
        "  - command: echo 2\n    output: {name: C, key: KEYED}\n"
        "  - command: echo 3\n    output: {name: COUNT, omit: true}\n",
    )
    result = cli("validate", source)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    given = "(the steps give KEYED, TOTL)"
    assert f"{source}:2: outputs[0]: declares output `TOTAL`, but no step gives it {given}" in (
        lines
    ), lines
    assert any("declares output `COUNT`" in line for line in lines)  # omitted: not given
    assert not any("`KEYED`" in line for line in lines)
    assert len(lines) == 2, lines


def test_a_bad_declaration_is_a_load_error_with_its_line(cli, write) -> None:
    for body, message in (
        ("  - name: N\n    type: float\n", "type must be one of string, integer, number, boolean"),
        ("  - name: N\n    type: integer\n    default: x\n", "default of N: must be an integer"),
        ("  - name: N\n    required: yes please\n", "required must be true or false"),
        ("  - name: N\n    colour: red\n", "unknown field `colour` of a param"),
    ):
        source = write("bad.yaml", f"name: bad\nparams:\n{body}steps:\n  - command: 'true'\n")
        result = cli("validate", source)
        assert result.code == 1 and message in result.err, result.err
        assert f"{source}:" in result.err


def test_start_refuses_params_that_do_not_fit_naming_each(cli, write) -> None:
    child = write("child.yaml", CHILD)
    refused = cli("start", child, "--", "COUNT=many", "DRY=maybe")
    assert refused.code == 1
    assert refused.err.strip() == (
        "plait: child: param COUNT must be an integer, not 'many'; "
        "param DRY must be true or false, not 'maybe'"
    )
    assert cli("history", "child", "--json").out.strip() in ("", "[]")  # no run was made
    ok = cli("start", child, "--", "COUNT=2", "DRY=true")
    assert ok.code == 0, ok.err
    assert "2 fast 0.5 true untyped" in ok.out


def test_a_child_run_whose_params_do_not_fit_fails_before_any_step(cli, write) -> None:
    write("child.yaml", CHILD)
    parent = write(
        "parent.yaml",
        """
        name: parent
        params:
          - N: "not a number"
        steps:
          - name: call
            run: child
            params: "COUNT=${N}"
        """,
    )
    assert cli("start", parent).code == 1
    record = json.loads(cli("status", "parent", "--json").out)
    error = record["steps"][0]["error"]
    assert "param COUNT must be an integer, not 'not a number'" in error, error


def test_the_api_validates_a_start_against_the_declared_params(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "child.yaml").write_text(CHILD.lstrip())
    with plait_server(tmp_path, dags) as (url, _):
        client = httpx.Client(base_url=url, headers={"X-Plait-Request": "1"}, timeout=30)
        described = client.get("/api/v1/workflows/child").json()
        count = next(p for p in described["params"] if p["name"] == "COUNT")
        assert count == {
            "name": "COUNT",
            "default": "",
            "type": "integer",
            "required": True,
            "description": "how many",
            "enum": None,
        }
        assert next(p for p in described["params"] if p["name"] == "PLAIN") == {
            "name": "PLAIN",
            "default": "untyped",
        }
        refused = client.post("/api/v1/workflows/child/start", json={"params": {"MODE": "x"}})
        assert refused.status_code == 422
        assert refused.json()["error"] == (
            "child: param COUNT is required; param MODE must be one of fast, slow, not 'x'"
        )
        started = client.post("/api/v1/workflows/child/start", json={"params": {"COUNT": 4}})
        assert started.status_code == 202, started.text
        client.close()
