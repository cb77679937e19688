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

from collections.abc import Callable

from plait.expr.expand import REFERENCE

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

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


def plain_argv(text: str, resolve: Resolve) -> list[str] | None:
    """The argv a POSIX shell would make of ``text``, when that needs no shell: plain words,
    double-quoted words and references plait resolves (a quoted one is one word, an unquoted
    one splits at spaces, tabs and newlines, and nothing more). None when the text needs the
    shell (any other syntax, a name plait does not own, a value too big for argv)."""
    from plait.expr._lexer import plain_argv as argv

    return argv(text, resolve)
