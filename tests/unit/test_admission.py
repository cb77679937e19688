"""The admission rule of queues, as pure code: capacities, maxActiveRuns, first come first
served, foreground runs keeping their place, why each waiting run waits, priorities with
ageing, and the one range of a priority."""

from __future__ import annotations

import argparse

import pytest

from plait.errors import InvalidParamsError
from plait.queue.admission import (
    AGEING_SECONDS,
    admit,
    capacity_of,
    effective_priority,
    why_waiting,
)
from plait.spec.priority import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    check_priority,
    priority_arg,
    priority_problem,
)
from plait.store.records import QueueState, Waiting


def state(
    running: list[int],
    waiting: list[tuple[str, str, int, str]],
    running_of: dict[str, int] | None = None,
) -> QueueState:
    return QueueState("q", running, [Waiting(*entry) for entry in waiting], running_of or {})


def test_declared_capacity_wins_and_undeclared_is_the_largest_max_active_runs() -> None:
    s = state([1, 3], [("r", "w", 2, "scheduler")])
    assert capacity_of(s, 5) == 5
    assert capacity_of(s, None) == 3
    assert capacity_of(state([], []), None) == 1


def test_first_come_first_served_up_to_the_capacity() -> None:
    s = state([], [(f"r{i}", "w", 10, "scheduler") for i in range(5)])
    claim = admit(s, 2)
    assert claim.claimed == ["r0", "r1"]
    assert claim.reason == "queue q is full (2/2 running)"
    assert claim.capacity == 2 and claim.running == 0


def test_max_active_runs_of_a_workflow_holds_across_queues_and_later_runs_may_pass() -> None:
    s = state(
        [],
        [("a1", "a", 1, "scheduler"), ("b1", "b", 1, "scheduler"), ("a2", "a", 1, "scheduler")],
        running_of={"a": 1},
    )
    claim = admit(s, 3)
    assert claim.claimed == ["b1"]  # a is at its maxActiveRuns anywhere; b goes ahead
    reasons = why_waiting(s, 3)
    assert reasons["a1"].startswith("maxActiveRuns 1 of a")
    assert reasons["a2"].startswith("maxActiveRuns 1 of a")


def test_a_foreground_run_keeps_its_place_and_is_claimed_only_by_its_own_process() -> None:
    s = state([], [("fg", "w", 5, "self"), ("bg", "w", 5, "scheduler")])
    assert admit(s, 1).claimed == []  # fg holds the only slot's place; bg is behind it
    assert admit(s, 2).claimed == ["bg"]
    assert admit(s, 1, only="fg").claimed == ["fg"]
    behind = admit(s, 2, only="bg")
    assert behind.claimed == [] and behind.reason == "behind run fg in queue q"


def test_why_waiting_names_the_cause_of_each_waiting_run() -> None:
    s = state([1, 1], [("x", "w", 2, "scheduler"), ("y", "v", 2, "self")])
    reasons = why_waiting(s, 2)
    assert reasons == {
        "x": "queue q is full (2/2 running)",
        "y": "queue q is full (2/2 running)",
    }
    roomy = why_waiting(s, 4)
    assert roomy == {"x": "waiting for the scheduler to start it", "y": "behind run x"}


def test_higher_priority_first_then_first_come_first_served() -> None:
    waiting = [
        Waiting("low", "w", 10, "scheduler", None, 0, 100.0),
        Waiting("high-late", "w", 10, "scheduler", None, 5, 103.0),
        Waiting("mid", "w", 10, "scheduler", None, 2, 101.0),
        Waiting("high-early", "w", 10, "scheduler", None, 5, 102.0),
    ]
    s = QueueState("q", [], waiting, {}, None, False, 110.0)
    assert admit(s, 3).claimed == ["high-early", "high-late", "mid"]
    reasons = why_waiting(s, 3)
    assert reasons["low"] == "behind run mid"  # the order the reasons follow


def test_a_low_priority_run_is_never_starved_by_a_steady_stream_of_high_ones() -> None:
    """One slot; every 10 s a run of priority 5 arrives and the slot frees. The run of
    priority 0 waiting from the start starts once it has aged past them: within about five
    ageing periods, never later."""
    now = 0.0
    waiting = [Waiting("low", "w", 1, "scheduler", None, 0, 0.0)]
    started_at = None
    for n in range(200):  # 2,000 s of a stream that would starve it without ageing
        now = n * 10.0
        waiting.append(Waiting(f"high{n}", "w", 1, "scheduler", None, 5, now))
        claim = admit(QueueState("q", [], waiting, {}, None, False, now), 1)
        assert len(claim.claimed) == 1
        waiting = [w for w in waiting if w.run_id not in claim.claimed]
        if claim.claimed == ["low"]:
            started_at = now
            break
    assert started_at is not None, "the low-priority run never started"
    assert started_at <= 5 * AGEING_SECONDS + 10


def test_a_paused_queue_admits_nothing_and_says_so() -> None:
    s = QueueState("q", [], [Waiting("r", "w", 1, "scheduler")], {}, None, True)
    claim = admit(s, 5)
    assert claim.claimed == [] and "queue q is paused" in claim.reason
    assert why_waiting(s, 5) == {"r": "queue q is paused"}


@pytest.mark.parametrize("gap", [1, 3, 10, 40])
def test_the_longest_wait_behind_a_steady_stream_is_the_gap_times_the_ageing_period(
    gap: int,
) -> None:
    """One slot; every 10 s a run of priority ``gap`` arrives and the slot frees. The run of
    priority 0 waiting from the start goes first once it has aged by the gap (it is older than
    each run of the stream it then ties with): no sooner, and no later than the next turn."""
    waiting = [Waiting("low", "w", 1, "scheduler", None, 0, 0.0)]
    started_at = None
    for n in range(gap * int(AGEING_SECONDS) // 10 + 10):
        now = n * 10.0
        waiting.append(Waiting(f"high{n}", "w", 1, "scheduler", None, gap, now))
        claim = admit(QueueState("q", [], waiting, {}, None, False, now), 1)
        assert len(claim.claimed) == 1
        waiting = [w for w in waiting if w.run_id not in claim.claimed]
        if claim.claimed == ["low"]:
            started_at = now
            break
    assert started_at is not None, "the low-priority run never started"
    assert gap * AGEING_SECONDS <= started_at <= gap * AGEING_SECONDS + 10


def test_effective_priority_is_whole_ageing_steps_and_none_before_the_run_is_enqueued() -> None:
    entry = Waiting("r", "w", 1, "scheduler", None, -2, 1000.0)
    assert effective_priority(entry, 1000.0 + AGEING_SECONDS - 0.001) == -2
    assert effective_priority(entry, 1000.0 + AGEING_SECONDS) == -1
    assert effective_priority(entry, 1000.0 + 5 * AGEING_SECONDS + 1) == 3
    assert effective_priority(entry, 900.0) == -2  # a clock behind the enqueue time: no ageing
    assert effective_priority(Waiting("r", "w", 1, "scheduler", None, 4), 1e9) == 4


# ----------------------------------------------------------------------- the range of priority


@pytest.mark.parametrize("value", [PRIORITY_MIN, 0, PRIORITY_MAX])
def test_a_priority_in_range_is_accepted_by_the_one_rule(value: int) -> None:
    assert priority_problem(value) is None
    assert check_priority(value) == value
    assert priority_arg(str(value)) == value


@pytest.mark.parametrize("value", [PRIORITY_MIN - 1, PRIORITY_MAX + 1, 10**30, -(10**30)])
def test_a_priority_out_of_range_is_refused_naming_priority_and_the_range(value: int) -> None:
    expected = f"must be between {PRIORITY_MIN} and {PRIORITY_MAX}, not {value}"
    assert priority_problem(value) == expected
    with pytest.raises(InvalidParamsError) as error:
        check_priority(value)
    assert str(error.value) == f"priority {expected}"
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        priority_arg(str(value))
    assert str(refused.value) == expected


def test_priority_arg_makes_a_usage_error_of_a_bad_priority_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What ``type=priority_arg`` gives a command line parser: exit 2, naming the option."""
    parser = argparse.ArgumentParser(prog="plait start")
    parser.add_argument("--priority", type=priority_arg, default=None)
    assert parser.parse_args(["--priority", "-7"]).priority == -7
    for bad, said in (
        (str(PRIORITY_MAX + 1), f"must be between {PRIORITY_MIN} and {PRIORITY_MAX}"),
        ("high", "must be an integer, not 'high'"),
    ):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(["--priority", bad])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "argument --priority: " in err and said in err


def test_the_yaml_field_and_its_schema_use_the_same_range() -> None:
    from plait.spec import json_schema
    from plait.spec.fields import WORKFLOW

    (field,) = [f for f in WORKFLOW.fields if f.name == "priority"]
    assert (field.kind.minimum, field.kind.maximum) == (PRIORITY_MIN, PRIORITY_MAX)
    number = json_schema()["properties"]["priority"]["anyOf"][0]
    assert number == {"type": "integer", "minimum": PRIORITY_MIN, "maximum": PRIORITY_MAX}
