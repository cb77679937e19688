"""Expansion of variable references in strings.

Forms understood, in a command, a param value, an env value or a condition:

- ``${NAME}`` and ``$NAME``: a variable (param, env, output of an earlier step).
- ``${NAME.key.sub[0]}``: a JSON path into a variable whose value is JSON text.
- ``${step.output}``, ``${step.stdout}``, ``${step.stderr}``, ``${step.exit_code}``: a step by
  name or id (``stdout``/``stderr`` are the paths of its log files, as in the reference).
- ``$1``, ``$2`` ...: positional params.

A reference to something unknown is left as written, so the shell can still expand it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

__all__ = [
    "StepRef",
    "eval_pairs",
    "expand",
    "json_path",
    "parse_json_value",
    "render",
    "substitute_backticks",
]

_REFERENCE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_-]*)((?:\.[A-Za-z0-9_-]+|\[-?\d+\])*)\}"
    r"|\$([A-Za-z_][A-Za-z0-9_]*|\d+)"
)
_PATH_PART = re.compile(r"\.([A-Za-z0-9_-]+)|\[(-?\d+)\]")
_STEP_FIELDS = frozenset({"output", "stdout", "stderr", "exit_code", "exitCode"})
_BACKTICK = re.compile(r"`([^`]*)`")


class StepRef:
    """What ``${step.<field>}`` can read of a finished step."""

    __slots__ = ("exit_code", "output", "stderr", "stdout")

    def __init__(
        self,
        output: str | None,
        stdout: str,
        stderr: str,
        exit_code: int | None,
    ) -> None:
        self.output = output
        self.stdout = stdout
        self.stderr = stderr
        self.exit_code = exit_code


def parse_json_value(text: str) -> object:
    """The JSON value of ``text``, or None when it is not a JSON object or array."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        value: object = json.loads(stripped)
    except ValueError:
        return None
    return value


def render(value: object) -> str:
    """A value as text: strings as they are, everything else as JSON (never Python syntax)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


_ABSENT = object()


def json_path(value: object, path: str) -> object:
    """Follow ``.key`` and ``[index]`` parts of ``path`` into ``value``; None if absent."""
    found = _follow(value, path)
    return None if found is _ABSENT else found


def _follow(value: object, path: str) -> object:
    current = value
    for key, index in _PATH_PART.findall(path):
        if index:
            if not isinstance(current, list):
                return _ABSENT
            position = int(index)
            if not -len(current) <= position < len(current):
                return _ABSENT
            current = current[position]
        elif isinstance(current, dict):
            if key not in current:
                return _ABSENT
            current = current[key]
        elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        else:
            return _ABSENT
    return current


def _step_field(ref: StepRef, field: str) -> str | None:
    if field == "output":
        return ref.output
    if field == "stdout":
        return ref.stdout
    if field == "stderr":
        return ref.stderr
    return None if ref.exit_code is None else str(ref.exit_code)


def _lookup(
    name: str,
    path: str,
    variables: Mapping[str, str],
    steps: Mapping[str, StepRef],
) -> str | None:
    if path:
        first = path[1:].split(".", 1)[0].split("[", 1)[0] if path[0] == "." else ""
        step = steps.get(name)
        if step is not None and first in _STEP_FIELDS:
            value = _step_field(step, first)
            rest = path[1 + len(first) :]
            if value is None or not rest:
                return value
            return _lookup_json(value, rest)
        raw = variables.get(name)
        if raw is None:
            return None
        return _lookup_json(raw, path)
    return variables.get(name)


def _lookup_json(raw: str, path: str) -> str | None:
    document = parse_json_value(raw)
    if document is None:
        return None
    found = _follow(document, path)
    return None if found is _ABSENT else render(found)


def expand(
    text: str,
    variables: Mapping[str, str],
    steps: Mapping[str, StepRef] | None = None,
) -> str:
    """Replace every known reference in ``text``; unknown ones stay as written."""
    if "$" not in text:
        return text
    known_steps = steps or {}

    def replace(match: re.Match[str]) -> str:
        braced, path, bare = match.group(1), match.group(2), match.group(3)
        if braced is not None:
            value = _lookup(braced, path, variables, known_steps)
        else:
            value = variables.get(bare)
        return match.group(0) if value is None else value

    return _REFERENCE.sub(replace, text)


def substitute_backticks(text: str, run: Callable[[str], str]) -> str:
    """Replace each `command` in ``text`` by the trimmed output ``run`` gives for it."""
    if "`" not in text:
        return text
    return _BACKTICK.sub(lambda match: run(match.group(1)).strip(), text)


def eval_pairs(
    pairs: tuple[tuple[str, str], ...],
    base: Mapping[str, str],
    run: Callable[[str], str] | None = None,
    steps: Mapping[str, StepRef] | None = None,
) -> dict[str, str]:
    """Evaluate ``KEY=VALUE`` pairs in order; each value sees ``base`` and the pairs before it.

    Returns only the evaluated pairs (not ``base``).
    """
    result: dict[str, str] = {}
    scope = _Layered(base, result)
    for key, raw in pairs:
        value = expand(raw, scope, steps)
        if run is not None:
            value = substitute_backticks(value, run)
        result[key] = value
    return result


class _Layered(Mapping[str, str]):
    """``top`` over ``bottom`` without copying either."""

    def __init__(self, bottom: Mapping[str, str], top: Mapping[str, str]) -> None:
        self._bottom = bottom
        self._top = top

    def __getitem__(self, key: str) -> str:
        if key in self._top:
            return self._top[key]
        return self._bottom[key]

    def __contains__(self, key: object) -> bool:
        return key in self._top or key in self._bottom

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = self._top.get(key)
        if value is not None:
            return value
        return self._bottom.get(key, default)

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self._top
        yield from (key for key in self._bottom if key not in self._top)

    def __len__(self) -> int:
        return len(set(self._top) | set(self._bottom))
