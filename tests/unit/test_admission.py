"""The admission rule of queues, as pure code: capacities, maxActiveRuns, first come first
served, foreground runs keeping their place, and why each waiting run waits."""

from __future__ import annotations

from plait.queue.admission import AGEING_SECONDS, admit, capacity_of, why_waiting
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
