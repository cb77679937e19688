"""Validation: every rule names file, line, field; all problems of a file come at once."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.errors import Problem, SpecError
from plait.graph.deps import effective_depends, find_cycle
from plait.model import (
    DEFAULT_MAX_CONCURRENT,
    ContinueOn,
    GraphType,
    HandlerEvent,
    ItemsFrom,
    RepeatMode,
    Step,
    Workflow,
)
from plait.spec import load_text
from plait.spec.cron import parse_cron_line
from plait.spec.fields import STEP, WORKFLOW

FILE = "wf.yaml"


def load(body: str) -> Workflow:
    return load_text(textwrap.dedent(body), FILE)


def problems(body: str) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        load(body)
    return info.value.problems


def only(body: str) -> Problem:
    found = problems(body)
    assert len(found) == 1, found
    return found[0]


def step_yaml(fields: str) -> str:
    """A workflow of one step named `s` with the given extra YAML lines (indented 4)."""
    extra = textwrap.indent(textwrap.dedent(fields), "    ")
    return f"steps:\n  - name: s\n{extra}"


def one_step(fields: str) -> Step:
    return load(step_yaml(fields)).steps[0]


# --- dependencies ---------------------------------------------------------------------------


def test_depends_on_unknown_step_suggests_a_name() -> None:
    problem = only(
        """\
        steps:
          - {name: build, command: x}
          - name: test
            command: x
            depends:
              - buld
        """
    )
    assert (problem.file, problem.line, problem.field) == (FILE, 6, "steps[1].depends[0]")
    assert problem.message == "depends on unknown step `buld`; did you mean `build`?"


def test_depends_as_a_string_and_by_id() -> None:
    workflow = load(
        """\
        type: graph
        steps:
          - {name: build things, id: build, command: x}
          - {name: test, command: x, depends: build}
        """
    )
    assert workflow.steps[1].depends == ("build",)
    assert effective_depends(workflow) == {"build things": (), "test": ("build things",)}


def test_dependency_cycle_is_reported_with_its_path() -> None:
    problem = only(
        """\
        type: graph
        steps:
          - {name: a, command: x, depends: b}
          - {name: b, command: x, depends: a}
        """
    )
    assert (problem.line, problem.field) == (3, "steps[0].depends")
    assert problem.message == "dependency cycle: a -> b -> a"


def test_self_dependency_is_a_cycle() -> None:
    problem = only("steps:\n  - {name: a, command: x}\n  - {name: b, command: x, depends: [b]}\n")
    assert (problem.line, problem.field) == (3, "steps[1].depends")
    assert problem.message == "dependency cycle: b -> b"


def test_cycle_through_the_chain_rule() -> None:
    problem = only("steps:\n  - {name: a, command: x, depends: b}\n  - {name: b, command: x}\n")
    assert problem.message == "dependency cycle: a -> b -> a"
    assert problem.field == "steps[0].depends"


def test_chain_rule_and_graph_rule() -> None:
    body = """\
        {type}
        steps:
          - {{name: a, command: x}}
          - {{name: b, command: x}}
          - {{name: c, command: x, depends: a}}
          - {{name: d, command: x, depends: []}}
          - {{name: e, command: x}}
        """
    chain = effective_depends(load(body.format(type="")))
    assert chain == {"a": (), "b": ("a",), "c": ("a",), "d": (), "e": ("d",)}
    graph = load(body.format(type="type: graph"))
    assert graph.type is GraphType.GRAPH
    assert effective_depends(graph) == {"a": (), "b": (), "c": ("a",), "d": (), "e": ()}


def test_find_cycle_on_plain_maps() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["unknown"]}) is None
    deep = {str(i): [str(i + 1)] for i in range(5000)}
    deep["5000"] = ["0"]
    cycle = find_cycle(deep)
    assert cycle is not None and len(cycle) == 5002


def test_duplicate_step_names_and_ids() -> None:
    found = problems(
        """\
        steps:
          - {name: a, id: x, command: x}
          - {name: a, command: x}
          - {name: b, id: x, command: x}
          - {name: c, id: a, command: x}
        """
    )
    assert [(p.line, p.field) for p in found] == [
        (3, "steps[1].name"),
        (4, "steps[2].id"),
        (5, "steps[3].id"),
    ]
    assert "duplicate step name `a` (first at line 2)" in found[0].message
    assert "duplicate step id `x`" in found[1].message
    assert "name of another step" in found[2].message


def test_bad_id_is_rejected() -> None:
    problem = only(step_yaml("command: x\nid: 1abc\n"))
    assert problem.field == "steps[0].id"


# --- what a step runs -------------------------------------------------------------------------


def test_step_with_nothing_to_run() -> None:
    problem = only("steps:\n  - name: idle\n    description: nothing\n")
    assert (problem.line, problem.field) == (2, "steps[0]")
    assert "step `idle` has nothing to run" in problem.message


def test_command_and_run_together() -> None:
    problem = only(step_yaml("command: x\nrun: child\n"))
    assert (problem.line, problem.field) == (4, "steps[0].run")
    assert "cannot be combined with `command`" in problem.message


def test_parallel_needs_run_or_command() -> None:
    problem = only(step_yaml("script: echo\nparallel: [a, b]\n"))
    assert problem.field == "steps[0].parallel"
    assert "needs `run` or `command`" in problem.message


def test_step_without_name_is_named_by_kind_and_position() -> None:
    workflow = load("steps:\n  - command: x\n  - script: y\n  - run: z\n  - echo hi\n")
    assert [s.name for s in workflow.steps] == ["cmd_1", "script_2", "dag_3", "cmd_4"]
    assert workflow.steps[3].command == "echo hi"


def test_command_forms() -> None:
    assert one_step("command: echo hi").command == "echo hi"
    assert one_step("command: [echo, 1, true]").command == ("echo", "1", "true")
    assert one_step("command: |\n  echo a\n  echo b\n").command == "echo a\necho b\n"
    assert one_step("command: true").command == "true"
    assert "empty" in only(step_yaml("command: ''")).message


def test_executor_settings_are_checked_when_loading() -> None:
    problem = only(step_yaml("command: x\nexecutor: nope\n"))
    assert problem.message.startswith("unknown executor `nope` (known: archive, ")
    problem = only(step_yaml("command: x\nexecutor: docker\n"))
    assert "docker needs `image`" in problem.message
    problem = only(step_yaml("command: GET x\ntype: http\nconfig: {timeout: soon}\n"))
    assert (problem.field, problem.message) == ("steps[0].config.timeout", "must be an integer")


def test_output_strips_dollar_and_checks_name() -> None:
    assert one_step("command: x\noutput: $RESULT").output == "RESULT"
    assert "variable name" in only(step_yaml("command: x\noutput: 'a b'")).message


# --- types and bounds -------------------------------------------------------------------------


def test_wrong_types() -> None:
    assert only(step_yaml("command: x\ntimeoutSec: abc")).message == "must be a number"
    assert only("name: w\nsteps: foo\n").message == "steps must be a list of steps"
    problem = only(step_yaml("command: x\ndepends: {a: 1}"))
    assert problem.message == "must be a string or a list of strings"
    assert only("steps:\n  - {name: a, command: x}\nmaxActiveRuns: many\n").message == (
        "must be an integer"
    )


def test_steps_as_a_mapping_are_named_by_their_keys() -> None:
    workflow = load("steps:\n  build:\n    command: x\n  test:\n    command: y\n")
    assert [s.name for s in workflow.steps] == ["build", "test"]


def test_empty_steps() -> None:
    assert only("steps: []\n").message == "the workflow has no steps"
    assert only("name: w\n").message == "`steps` is required"


def test_negative_and_too_small_numbers() -> None:
    problem = only(step_yaml("command: x\ntimeoutSec: -1"))
    assert (problem.line, problem.field, problem.message) == (
        4,
        "steps[0].timeoutSec",
        "must be >= 0, not -1",
    )
    assert ">= 1" in only("maxActiveSteps: 0\nsteps:\n  - {name: a, command: x}\n").message
    assert ">= -1" in only("maxActiveRuns: -2\nsteps:\n  - {name: a, command: x}\n").message
    assert ">= 0" in only(step_yaml("command: x\nretryPolicy: {intervalSec: -2}")).message


def test_numeric_strings_are_accepted_for_numbers() -> None:
    step = one_step("command: x\ntimeoutSec: '30'\ndelaySec: '1.5'")
    assert (step.timeout_sec, step.delay_sec) == (30.0, 1.5)
    workflow = load("maxActiveRuns: '2'\nsteps:\n  - {name: a, command: x}\n")
    assert workflow.max_active_runs == 2


def test_all_problems_of_a_file_are_reported_together() -> None:
    found = problems(
        """\
        name: w
        maxActiveSteps: 0
        steps:
          - name: a
            command: x
            timeoutSec: -5
          - name: b
            command: x
            depends: nope
        """
    )
    assert [(p.line, p.field) for p in found] == [
        (2, "maxActiveSteps"),
        (6, "steps[0].timeoutSec"),
        (9, "steps[1].depends"),
    ]


def test_workflow_fields_are_read() -> None:
    workflow = load(
        """\
        name: full
        description: d
        group: g
        tags: a, b ,c
        dotenv: .env
        skipIfSuccessful: true
        catchupWindow: 6h
        overlapPolicy: latest
        shell: bash
        logDir: /logs
        timeoutSec: 60
        restartWaitSec: 2
        maxCleanUpTimeSec: 9
        queue: heavy
        maxOutputSize: 100
        histRetentionDays: 3
        histRetentionRuns: 5
        mailOn: {failure: true}
        errorMail: {from: a@b}
        smtp: {host: x}
        workerSelector: {gpu: true}
        steps:
          - {name: a, command: x, mailOnError: true, workerSelector: {zone: 1}}
        """
    )
    assert workflow.tags == ("a", "b", "c")
    assert workflow.dotenv == (".env",)
    assert workflow.catchup_window == "6h"
    assert workflow.overlap_policy == "latest"
    assert workflow.max_clean_up_time_sec == 9.0
    assert workflow.mail_on == {"failure": True}
    assert workflow.worker_selector == {"gpu": "true"}
    assert workflow.steps[0].worker_selector == {"zone": "1"}
    assert workflow.hist_retention_runs == 5


def test_closed_sets_and_durations() -> None:
    body = "steps:\n  - {name: a, command: x}\n"
    assert "chain, graph" in only("type: agent\n" + body).message
    assert "skip, all, latest" in only("overlapPolicy: never\n" + body).message
    assert "duration" in only("catchupWindow: soon\n" + body).message
    assert "workflow name" in only("name: 'a b'\n" + body).message


def test_signal_on_stop() -> None:
    assert one_step("command: x\nsignalOnStop: TERM").signal_on_stop == "SIGTERM"
    assert one_step("command: x\nsignalOnStop: SIGINT").signal_on_stop == "SIGINT"
    assert one_step("command: x\nsignalOnStop: 9").signal_on_stop == "SIGKILL"
    problem = only(step_yaml("command: x\nsignalOnStop: SIGFOO"))
    assert problem.field == "steps[0].signalOnStop"
    assert "not a signal name" in problem.message


# --- schedule -------------------------------------------------------------------------------


def test_schedule_forms() -> None:
    body = "steps:\n  - {name: a, command: x}\n"
    assert load("schedule: '0 * * * *'\n" + body).schedule.start == ("0 * * * *",)
    lines = (
        "schedule: ['@daily', '@every 1h30m', '30 0 * * * *', 'CRON_TZ=Europe/Paris 5 4 * * *']\n"
    )
    assert len(load(lines + body).schedule.start) == 4
    schedule = load("schedule: {start: '@hourly', stop: ['0 18 * * *']}\n" + body).schedule
    assert (schedule.start, schedule.stop, schedule.restart) == (("@hourly",), ("0 18 * * *",), ())


def test_bad_cron_line() -> None:
    problem = only("schedule: ['0 * * * *', '61 * * * *']\nsteps:\n  - {name: a, command: x}\n")
    assert (problem.line, problem.field) == (1, "schedule[1]")
    assert "not a valid cron expression" in problem.message
    assert "fields" in only("schedule: '* * *'\nsteps:\n  - {name: a, command: x}\n").message
    assert (
        "descriptor" in only("schedule: '@sometimes'\nsteps:\n  - {name: a, command: x}\n").message
    )
    assert "@every" in only("schedule: '@every soon'\nsteps:\n  - {name: a, command: x}\n").message


def test_unknown_timezone() -> None:
    problem = only(
        "schedule: 'CRON_TZ=Mars/Olympus 0 * * * *'\nsteps:\n  - {name: a, command: x}\n"
    )
    assert (problem.line, problem.field) == (1, "schedule")
    assert problem.message == "unknown timezone `Mars/Olympus`"


def test_unknown_schedule_part() -> None:
    problem = only("schedule: {begin: '@daily'}\nsteps:\n  - {name: a, command: x}\n")
    assert problem.field == "schedule.begin"


def test_parse_cron_line_moves_seconds_last() -> None:
    line = parse_cron_line("TZ=UTC 15 30 2 * * *")
    assert (line.timezone, line.expression, line.every_sec) == ("UTC", "30 2 * * * 15", None)
    assert parse_cron_line("@every 1h30m").every_sec == 5400.0
    assert parse_cron_line("*/5 * * * *").expression == "*/5 * * * *"
    with pytest.raises(ValueError):
        parse_cron_line("@every 0s")


# --- parallel -------------------------------------------------------------------------------


def test_parallel_forms() -> None:
    reference = one_step("run: child\nparallel: ${ITEMS}").parallel
    assert reference is not None and reference.items == "${ITEMS}"
    assert reference.max_concurrent == DEFAULT_MAX_CONCURRENT
    inline = one_step("run: child\nparallel: [a, 1, {k: v}]").parallel
    assert inline is not None and inline.items == ("a", "1", {"k": "v"})
    mapping = one_step("run: child\nparallel:\n  items: ${LIST}\n  maxConcurrent: 3").parallel
    assert mapping is not None and (mapping.items, mapping.max_concurrent) == ("${LIST}", 3)
    text = one_step("""command: echo\nparallel: '["a", "b", 3]'""").parallel
    assert text is not None and text.items == ("a", "b", "3")


def test_parallel_errors() -> None:
    message = (
        "parallel items must be a list, a ${VAR} reference, text, {file: PATH} or {command: CMD}"
    )
    assert only(step_yaml("run: c\nparallel: 5")).message == message
    items = one_step("run: c\nparallel: {items: {file: a.txt}}").parallel.items
    assert items == ItemsFrom(file="a.txt")
    assert one_step("run: c\nparallel: a b c").parallel.items == "a b c"  # split when it runs
    assert only(step_yaml("run: c\nparallel: {maxConcurrent: 2}")).message == "`items` is required"
    problem = only(step_yaml("run: c\nparallel: {items: [a], maxConcurrent: 0}"))
    assert problem.field == "steps[0].parallel.maxConcurrent"
    assert "JSON array" in only(step_yaml("run: c\nparallel: '[a, b'")).message


# --- continueOn, retry, repeat, preconditions, handlers ---------------------------------------


def test_continue_on_forms() -> None:
    assert one_step("command: x\ncontinueOn: failed").continue_on == ContinueOn(failure=True)
    assert one_step("command: x\ncontinueOn: failure").continue_on == ContinueOn(failure=True)
    assert one_step("command: x\ncontinueOn: skipped").continue_on == ContinueOn(skipped=True)
    assert one_step("command: x\ncontinueOn: true").continue_on == ContinueOn(failure=True)
    full = one_step(
        "command: x\n"
        "continueOn: {exitCode: [1, 2], output: 'warn', markSuccess: true, skipped: true}"
    ).continue_on
    assert full == ContinueOn(skipped=True, exit_codes=(1, 2), output=("warn",), mark_success=True)
    assert one_step("command: x\ncontinue_on: {exit_code: 3}").continue_on.exit_codes == (3,)


def test_continue_on_errors() -> None:
    problem = only(step_yaml("command: x\ncontinueOn: {failures: true}"))
    assert problem.field == "steps[0].continueOn.failures"
    assert "did you mean `failure`?" in problem.message
    assert "not failure, skipped" in only(step_yaml("command: x\ncontinueOn: always")).message


def test_retry_policy_forms_and_errors() -> None:
    policy = one_step(
        "command: x\n"
        "retryPolicy: {limit: 3, intervalSec: 2, exitCode: 1, backoff: 1.5, maxIntervalSec: 60}"
    ).retry_policy
    assert policy is not None
    assert (policy.limit, policy.interval_sec, policy.exit_codes) == (3, 2.0, (1,))
    assert (policy.backoff, policy.max_interval_sec) == (1.5, 60.0)
    backoff_true = one_step("command: x\nretryPolicy: {limit: 1, backoff: true}").retry_policy
    assert backoff_true is not None and backoff_true.backoff == 2.0
    assert ">= 1.0" in only(step_yaml("command: x\nretryPolicy: {backoff: 0.5}")).message
    assert ">= 0" in only(step_yaml("command: x\nretryPolicy: {limit: -1}")).message
    assert "integer" in only(step_yaml("command: x\nretryPolicy: {limit: lots}")).message


def test_repeat_policy_modes() -> None:
    forever = one_step("command: x\nrepeatPolicy: {repeat: true, intervalSec: 1, limit: 3}")
    assert forever.repeat_policy is not None
    assert (forever.repeat_policy.mode, forever.repeat_policy.limit) == (RepeatMode.WHILE, 3)
    implicit = one_step("command: x\nrepeatPolicy: {condition: '${X}', expected: go}").repeat_policy
    assert implicit is not None and implicit.mode is RepeatMode.WHILE
    assert implicit.condition is not None and implicit.condition.expected == "go"
    until = one_step("command: x\nrepeatPolicy: {repeat: until, exitCode: [0]}").repeat_policy
    assert until is not None and (until.mode, until.exit_codes) == (RepeatMode.UNTIL, (0,))


def test_repeat_policy_errors() -> None:
    problem = only(step_yaml("command: x\nrepeatPolicy: {intervalSec: 5}"))
    assert problem.field == "steps[0].repeatPolicy"
    assert "needs `condition`, `exitCode` or `repeat: true`" in problem.message
    problem = only(step_yaml("command: x\nrepeatPolicy: {repeat: until}"))
    assert problem.field == "steps[0].repeatPolicy.repeat"
    assert ">= 1" in only(step_yaml("command: x\nrepeatPolicy: {repeat: true, limit: 0}")).message
    assert (
        "`while` or `until`" in only(step_yaml("command: x\nrepeatPolicy: {repeat: often}")).message
    )


def test_preconditions_forms() -> None:
    single = one_step("command: x\npreconditions: test -f a").preconditions
    assert [(c.condition, c.expected, c.line) for c in single] == [("test -f a", None, 4)]
    mixed = one_step(
        "command: x\npreconditions:\n  - test -f a\n  - condition: '`date +%u`'\n    expected: '1'"
    ).preconditions
    assert [(c.condition, c.expected) for c in mixed] == [("test -f a", None), ("`date +%u`", "1")]
    assert mixed[1].line == 6
    mapping = one_step("command: x\npreconditions: {condition: '${A}', expected: b}").preconditions
    assert mapping[0].expected == "b"
    assert only(step_yaml("command: x\npreconditions: [{expected: b}]")).message == (
        "`condition` is required"
    )


def test_handlers_get_default_names() -> None:
    workflow = load(
        """\
        handlerOn:
          success: {command: echo ok}
          failure: {name: alert, command: echo bad}
          exit: {command: echo bye}
        steps:
          - {name: a, command: x}
        """
    )
    names = {event: step.name for event, step in workflow.handlers.items()}
    assert names == {
        HandlerEvent.SUCCESS: "onSuccess",
        HandlerEvent.FAILURE: "alert",
        HandlerEvent.EXIT: "onExit",
    }
    problem = only("handlerOn:\n  done: {command: x}\nsteps:\n  - {name: a, command: x}\n")
    assert problem.field == "handlerOn.done"


def test_step_env_and_params() -> None:
    step = one_step("run: child\nenv: {A: 1}\nparams: 'X=1 Y=\"a b\"'")
    assert step.env == (("A", "1"),)
    assert [(p.name, p.value) for p in step.params] == [("X", "1"), ("Y", "a b")]


# --- robustness -----------------------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70), st.floats(allow_nan=False), st.text(max_size=8)
)
_STEP_KEYS = st.sampled_from([f.name for f in STEP.fields] + ["call", "dir", "bogus"])
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["items", "limit", "condition", "a", "failure"]), inner),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(_STEP_KEYS, _VALUES, max_size=5), max_size=4),
    st.dictionaries(
        st.sampled_from([f.name for f in WORKFLOW.fields if f.name != "steps"]), _VALUES
    ),
)
def test_any_shape_is_a_workflow_or_a_spec_error(
    steps: list[dict[str, object]], top: dict[str, object]
) -> None:
    text = yaml.safe_dump({**top, "name": "w", "steps": steps})
    try:
        load_text(text, FILE)
    except SpecError as exc:
        assert exc.problems
        assert all(p.file == FILE and p.message for p in exc.problems)


def test_a_workflow_with_hitl_steps_cannot_go_to_workers() -> None:
    found = only(
        """
        name: gated
        workerSelector: {gpu: "true"}
        steps:
          - {name: ask, type: hitl}
        """
    )
    assert (found.line, found.field) == (3, "workerSelector")  # the text starts with a newline
    assert "cannot go to workers" in found.message


def test_a_hitl_step_with_a_selector_cannot_go_to_workers() -> None:
    found = only(
        """
        name: gated
        steps:
          - echo first
          - name: ask
            type: hitl
            workerSelector: {gpu: "true"}
        """
    )
    assert found.line == 7 and "a `hitl` step cannot go to workers" in found.message
