"""``jq``: query the step's ``script`` (JSON) with its ``command`` as the filter.

Each result is printed as indented JSON, or with ``raw: true`` strings without quotes (as
``jq -r``). The query runs in the jq library (the ``jq`` package), not in a shell.

Values are data: a reference in the filter becomes a jq variable holding the value
(``${X}`` → ``$__plait_1``, a string), and in the input JSON a reference inside a string is
inserted JSON-escaped, so no value can change the query or break the input.
"""

from __future__ import annotations

import json
import re

from plait.expr import REFERENCE
from plait.runtime.executors import ExecutorFailure, StepIO

__all__ = ["run"]

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def run(io: StepIO) -> int:
    import jq

    config = io.config()
    program, args = _filter(io, io.command().strip() or ".")
    text = _input(io, io.step.script or "null")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ExecutorFailure(f"jq: the script is not JSON: {error}") from None
    try:
        results = jq.compile(program, args=args).input_value(document).all()
    except ValueError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "error"
        raise ExecutorFailure(first if first.startswith("jq:") else f"jq: {first}") from None
    raw = bool(config.get("raw"))
    for value in results:
        io.out(_shown(value, raw) + "\n")
    return 0


def _shown(value: object, raw: bool) -> str:
    if raw and isinstance(value, str):
        return value
    if raw and value is None:
        return ""
    if raw and not isinstance(value, dict | list):
        return json.dumps(value)
    return json.dumps(value, indent=4, ensure_ascii=False)


def _filter(io: StepIO, program: str) -> tuple[str, dict[str, str]]:
    """The filter with each reference to a run-time value made a jq variable."""
    resolve = io.execution.scope.resolver(io.env_only(), everything=True)
    args: dict[str, str] = {}
    names: dict[str, str] = {}

    def variable(match: re.Match[str]) -> str:
        value = resolve(match)
        if value is None:
            return match.group(0)
        name = names.get(match.group(0))
        if name is None:
            name = f"__plait_{len(names) + 1}"
            names[match.group(0)] = name
            args[name] = value
        return f"${name}"

    out: list[str] = []
    position = 0
    for string in _JSON_STRING.finditer(program):  # in a jq string: an interpolation
        out.append(REFERENCE.sub(variable, program[position : string.start()]))
        inner = REFERENCE.sub(lambda m: f"\\({variable(m)})", string.group(0))
        out.append(inner)
        position = string.end()
    out.append(REFERENCE.sub(variable, program[position:]))
    return "".join(out), args


def _input(io: StepIO, text: str) -> str:
    """The input JSON with references replaced: JSON-escaped inside strings, as they are
    elsewhere (a reference may stand for a whole JSON value)."""
    scope = io.execution.scope
    resolve = scope.resolver(io.env_only(), everything=True)
    out: list[str] = []
    position = 0
    for string in _JSON_STRING.finditer(text):
        out.append(scope.expand(text[position : string.start()], io.env_only()))

        def escaped(match: re.Match[str]) -> str:
            value = resolve(match)
            if value is None:
                value = scope.expand(match.group(0), io.env_only())
            return json.dumps(value, ensure_ascii=False)[1:-1]

        out.append(REFERENCE.sub(escaped, string.group(0)))
        position = string.end()
    out.append(scope.expand(text[position:], io.env_only()))
    return "".join(out)
