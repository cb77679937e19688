"""Run-time values in shell text: references become shell variables, never pasted code.

The text of a ``command`` or ``script`` is the author's code; the values its ``${...}``
references name (params, outputs, items, child results) arrive at run time and are data. So
``to_shell`` does not paste a value into the text: it rewrites each reference into a reference
to a shell variable of its own (``${PLAIT_V_WHO}``) and returns the values to bind, which the
shell then expands exactly as it expands any variable — quoted, one word; unquoted, split into
words — and never parses as code.

Quoting decides how a reference is rewritten, as the shell would read it:

- unquoted, in double quotes, in ``$(...)``, backticks, ``${...}`` and here-documents with an
  unquoted delimiter: ``${PLAIT_V_X}``;
- in single quotes (``'--in=${X}'``), where the shell expands nothing: the quotes are closed
  around a double-quoted variable, ``'--in='"${PLAIT_V_X}"''``, so the value is still its
  exact text (the reference engine pastes it there);
- in a here-document with a quoted delimiter (``<<'EOF'``), whose body the shell takes as it
  is: the value is pasted, unless it holds the delimiter line, which would end the document.

Pure: nothing here starts a process.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from plait.expr.expand import REFERENCE

__all__ = ["ShellText", "UnsafeValueError", "plain_argv", "to_shell"]

Resolve = Callable[["re.Match[str]"], "str | None"]


class UnsafeValueError(ValueError):
    """A value that cannot be placed where its reference stands without becoming code."""


class ShellText:
    """Shell text whose references to run-time values are shell variables, and their values."""

    __slots__ = ("text", "values")

    def __init__(self, text: str, values: dict[str, str]) -> None:
        self.text = text
        self.values = values


def to_shell(text: str, resolve: Resolve) -> ShellText:
    """``text`` with every reference that ``resolve`` knows turned into a shell variable.

    ``resolve`` gets each match of ``REFERENCE`` and returns the value, or None for a name
    plait does not own (left as written, for the shell to expand from the environment).

    Raises:
        UnsafeValueError: a value that would end the here-document it is pasted into.
    """
    if "$" not in text or not any(resolve(m) is not None for m in REFERENCE.finditer(text)):
        return ShellText(text, {})
    from plait.expr._lexer import rewrite  # only text with values pays for the lexer

    return rewrite(text, resolve)


_WORD = re.compile(r"""[ \t]*("[^"]*"|'[^']*'|[^ \t"']+)[ \t]*(?=[ \t]|$)""")
_UNQUOTED_SYNTAX = re.compile(r"""[|&;<>()`\\"'*?\[\]#~=%{}!\n$]""")
_DOUBLE_SYNTAX = re.compile(r'["\\`$]')
_PLAIN_LIMIT = 64 * 1024  # bigger values go through the shell, which reads them from files


def plain_argv(text: str, resolve: Resolve) -> list[str] | None:
    """The argv a POSIX shell would make of ``text``, when that needs no shell: plain words,
    double-quoted words and references plait resolves (a quoted one is one word, an unquoted
    one splits at spaces, tabs and newlines, and nothing more). None when the text needs the
    shell (any other syntax, a name plait does not own, a value too big for argv)."""
    if "\n" in text:
        return None
    fields: list[str] = []
    total = 0
    position = 0
    for match in _WORD.finditer(text):
        if match.start() != position:
            return None  # a quote joined to other text: the shell's business
        position = match.end()
        made = _plain_word(match.group(1), resolve)
        if made is None:
            return None
        produced, size = made
        total += size
        if total > _PLAIN_LIMIT:
            return None
        fields.extend(produced)
    if position != len(text):
        return None
    return fields or None


def _plain_word(word: str, resolve: Resolve) -> tuple[list[str], int] | None:
    if len(word) >= 2 and word[0] == word[-1] == "'":
        # in single quotes a value is its exact text, as `to_shell` makes it
        values: list[int] = []

        def paste(match: re.Match[str]) -> str:
            value = resolve(match)
            if value is None:
                return match.group(0)
            values.append(len(value))
            return value

        return [REFERENCE.sub(paste, word[1:-1])], sum(values)
    if len(word) >= 2 and word[0] == word[-1] == '"':
        return _double_quoted(word[1:-1], resolve)
    fields: list[str] = []
    current, have, size = "", False, 0
    position = 0
    for match in REFERENCE.finditer(word):
        literal = word[position : match.start()]
        if _UNQUOTED_SYNTAX.search(literal):
            return None
        value = resolve(match)
        if value is None:
            return None
        size += len(value)
        current += literal
        have = have or bool(literal)
        current, have = _split_into(fields, current, have, value)
        position = match.end()
    rest = word[position:]
    if _UNQUOTED_SYNTAX.search(rest):
        return None
    current += rest
    if have or rest:
        fields.append(current)
    return fields, size


def _split_into(fields: list[str], current: str, have: bool, value: str) -> tuple[str, bool]:
    """Field splitting of an unquoted expansion: ``value`` continues the current field up to
    its first run of blanks, and each later piece starts a field of its own."""
    pieces = value.replace("\t", " ").replace("\n", " ").split(" ")
    for index, piece in enumerate(pieces):
        if index > 0 and (have or current):
            fields.append(current)
            current, have = "", False
        if piece:
            current += piece
            have = True
    return current, have


def _double_quoted(inner: str, resolve: Resolve) -> tuple[list[str], int] | None:
    out: list[str] = []
    size = 0
    position = 0
    for match in REFERENCE.finditer(inner):
        literal = inner[position : match.start()]
        if _DOUBLE_SYNTAX.search(literal):
            return None
        value = resolve(match)
        if value is None:
            return None
        out.append(literal)
        out.append(value)
        size += len(value)
        position = match.end()
    rest = inner[position:]
    if _DOUBLE_SYNTAX.search(rest):
        return None
    out.append(rest)
    return ["".join(out)], size
