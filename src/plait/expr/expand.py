"""Expansion of variable references in strings.

Forms understood, in a command, a param value, an env value or a condition:

- ``${NAME}`` and ``$NAME``: a variable (param, env, output of an earlier step).
- ``${NAME.key.sub[0]}``: a JSON path into a variable whose value is JSON text.
- ``${step.output}``, ``${step.stdout}``, ``${step.stderr}``, ``${step.exit_code}``: a step by
  name or id (``stdout``/``stderr`` are the paths of its log files, as in the reference).
- ``$1``, ``$2`` ..., ``${1}``: positional params.
- ``${NAME:START}`` and ``${NAME:START:LENGTH}`` on any of those: a substring (in characters).

A reference to something unknown is left as written, so the shell can still expand it.
These functions paste values into text: they are for text no shell will read. Shell text goes
through ``plait.expr.shell.to_shell``, which turns references into shell variables instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.expr.shell import ShellText

__all__ = [
    "REFERENCE",
    "JsonText",
    "StepRef",
    "evaluate",
    "expand",
    "json_path",
    "parse_json_value",
    "render",
    "resolve_reference",
]

# ${NAME}, ${NAME.path[0]}, ${NAME:start:length}, ${1}; $NAME, $1. Groups: braced name, path,
# slice, bare name.
REFERENCE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_-]*|\d+)((?:\.[A-Za-z0-9_-]+|\[-?\d+\])*)((?::\d+){1,2})?\}"
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


class JsonText(str):
    """The text of a JSON object whose top-level members' places are known, so a path into
    it reads only the member it names (and of an array member, only the element), never the
    whole: a fan-out of 100,000 items has a result of many megabytes that a later step's
    ``${RESULTS.outputs}`` or ``${RESULTS.summary.total}`` reads without parsing all of it.

    ``members``: each name's ``(start, end)`` in the text; ``elements``: for an array member,
    where each element starts and ends. Every member's text is what ``render`` makes of its
    value (``json.dumps`` with ``ensure_ascii=False`` and the default separators).
    """

    members: dict[str, tuple[int, int]]
    elements: dict[str, tuple[Sequence[int], Sequence[int]]]

    def __new__(
        cls,
        text: str,
        members: dict[str, tuple[int, int]],
        elements: dict[str, tuple[Sequence[int], Sequence[int]]],
    ) -> JsonText:
        self = super().__new__(cls, text)
        self.members = members
        self.elements = elements
        return self


def _lookup_member(raw: JsonText, path: str) -> object:
    """A path into a ``JsonText`` through the member it names; ``_ABSENT`` when the member is
    not one of those known (the path is then followed in the whole value)."""
    parts = _PATH_PART.findall(path)
    key, index = parts[0]
    if index or key not in raw.members:
        return _ABSENT
    if len(parts) == 1:
        start, end = raw.members[key]
        return raw[start:end]
    rest = path[1 + len(key) :]
    places = raw.elements.get(key)
    after_key, after_index = parts[1]
    if places is not None and (after_index or after_key.isdigit()):
        starts, ends = places
        position = int(after_index or after_key)
        if not -len(starts) <= position < len(starts):
            return None
        element = raw[starts[position] : ends[position]]
        tail = rest[len(after_index) + 2 :] if after_index else rest[len(after_key) + 1 :]
        if not tail:
            return render(json.loads(element)) if element[:1] not in "[{" else element
        return _lookup_json(element, tail)
    start, end = raw.members[key]
    return _lookup_json(raw[start:end], rest)


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
    if isinstance(raw, JsonText):
        found = _lookup_member(raw, path)
        if found is not _ABSENT:
            return found  # type: ignore[return-value]
    document = parse_json_value(raw)
    if document is None:
        return None
    found = _follow(document, path)
    return None if found is _ABSENT else render(found)


def resolve_reference(
    match: re.Match[str],
    variables: Mapping[str, str],
    steps: Mapping[str, StepRef],
) -> str | None:
    """The value a match of ``REFERENCE`` stands for, or None when the name is unknown."""
    braced, path, slicing, bare = match.group(1), match.group(2), match.group(3), match.group(4)
    if braced is None:
        return variables.get(bare)
    value = _lookup(braced, path, variables, steps)
    if value is None or not slicing:
        return value
    parts = [int(part) for part in slicing[1:].split(":")]
    start = parts[0]
    return value[start : start + parts[1]] if len(parts) == 2 else value[start:]


def expand(
    text: str,
    variables: Mapping[str, str],
    steps: Mapping[str, StepRef] | None = None,
) -> str:
    """Replace every known reference in ``text`` by its value; unknown ones stay as written."""
    if "$" not in text:
        return text
    known_steps = steps or {}

    def replace(match: re.Match[str]) -> str:
        value = resolve_reference(match, variables, known_steps)
        return match.group(0) if value is None else value

    return REFERENCE.sub(replace, text)


def evaluate(
    text: str,
    variables: Mapping[str, str],
    steps: Mapping[str, StepRef],
    run: Callable[[ShellText], str] | None,
    owned: Mapping[str, str] | None = None,
) -> str:
    """The value of author text (a param default, an env value, a condition): each
    `command` in backticks runs, and its trimmed output takes its place; every other
    reference is replaced by its value.

    Values are data here too: a backtick command is shell text, so the values it references
    reach it as shell variables (only those in ``owned``, by default ``variables``; other
    names are the shell's), and nothing a value or a command's output holds is run again.
    With ``run`` None, backticks stay as written.
    """
    if "`" not in text or run is None:
        return expand(text, variables, steps)
    from plait.expr.shell import to_shell

    names = variables if owned is None else owned
    pieces: list[str] = []
    position = 0
    for match in _BACKTICK.finditer(text):
        pieces.append(expand(text[position : match.start()], variables, steps))
        command = to_shell(match.group(1), lambda ref: resolve_reference(ref, names, steps))
        pieces.append(run(command).strip())
        position = match.end()
    pieces.append(expand(text[position:], variables, steps))
    return "".join(pieces)
