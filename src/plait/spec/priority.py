"""The range of a run's priority: one rule for a workflow's ``priority:``, ``--priority`` of
``plait start`` / ``plait enqueue``, and the API's ``"priority"`` (whose request body declares
the same bounds; a test pins them together).

Why a bound: a waiting run gains one step of priority for each ageing period it waits
(``plait.queue.admission.AGEING_SECONDS``), so the longest a run can wait behind a steady
stream of higher ones is about (the gap between their priorities) x that period. The bound
caps the gap, and keeps every priority a number every store can hold.
"""

from __future__ import annotations

import argparse

from plait.errors import InvalidParamsError
from plait.spec._kinds import range_problem

__all__ = ["PRIORITY_MAX", "PRIORITY_MIN", "check_priority", "priority_arg", "priority_problem"]

PRIORITY_MIN = -1000
PRIORITY_MAX = 1_000_000


def priority_problem(value: int) -> str | None:
    """Why ``value`` is not a priority, or None."""
    return range_problem(value, PRIORITY_MIN, PRIORITY_MAX)


def check_priority(value: int) -> int:
    """``value``, if it is a priority.

    Raises:
        InvalidParamsError: it is out of range (exit 1; 422 from the API), naming priority.
    """
    problem = priority_problem(value)
    if problem is not None:
        raise InvalidParamsError(f"priority {problem}")
    return value


def priority_arg(text: str) -> int:
    """The ``type=`` of a ``--priority`` option: out of range, or not an integer, is a usage
    error (exit 2: "argument --priority: must be between -1000 and 1000000, not 5000000")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
    problem = priority_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value
