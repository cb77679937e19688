"""``hitl`` (human in the loop): the step waits until a person approves or rejects it.

The step prints its prompt and the inputs it expects, then waits: its status is ``waiting``,
and when nothing else of the run can go on, the run's too — its agent then ends, so a waiting
run holds no process and no queue slot, and it survives any restart. ``plait approve`` (the
API, the UI) gives the inputs, which become the step's outputs, and the run goes on;
``plait reject`` fails the step.
"""

from __future__ import annotations

import json

from plait.runtime.executors import StepIO

__all__ = ["StepWaits", "run"]


class StepWaits(Exception):
    """The step waits for a person; ``request`` says for what (prompt, inputs, required)."""

    def __init__(self, request: dict[str, object]) -> None:
        super().__init__("waiting for approval")
        self.request = request


def run(io: StepIO) -> int:
    config = io.config()
    prompt = str(config.get("prompt", ""))
    inputs = [str(i) for i in config.get("input") or []]
    required = [str(r) for r in config.get("required") or []]
    io.out("Waiting for human approval...\n")
    if prompt:
        io.out(f"\nPrompt:\n{prompt}\n")
    if inputs:
        io.out(f"\nExpected inputs: {', '.join(inputs)}\n")
        if required:
            io.out(f"Required inputs: {', '.join(required)}\n")
    raise StepWaits({"prompt": prompt, "input": inputs, "required": required})


def request_of(output: str | None) -> dict[str, object]:
    """What a waiting step asks for, as its record keeps it."""
    try:
        value = json.loads(output or "{}")
    except ValueError:
        return {}
    request = value.get("waiting") if isinstance(value, dict) else None
    return request if isinstance(request, dict) else {}
