"""The shell lexer behind ``to_shell``: just enough of the POSIX shell grammar to know, at
each reference, how the shell will read it (quotes, substitutions, here-documents)."""

from __future__ import annotations

import re

from plait.expr.expand import REFERENCE
from plait.expr.shell import Resolve, ShellText, UnsafeValueError

__all__ = ["plain_argv", "rewrite"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HEREDOC = re.compile(r"<<(-?)[ \t]*((?:'[^'\n]*'|\"[^\"\n]*\"|\\?[^\s;&|<>()]+)+)")
_PLAIN = {
    0: re.compile(r"[^\\'\"$`#(){}<\n \t;&|>]+"),
    1: re.compile(r"[^\\\"$`\n]+"),
    2: re.compile(r"[^'$\n]+"),
    3: re.compile(r"[^'$\\\n]+"),
}

# Lexer states (a stack of them: quotes and substitutions nest).
_CODE = 0  # unquoted text, also inside $( ... ) and backticks
_DOUBLE = 1  # "..."
_SINGLE = 2  # '...'
_ANSI = 3  # $'...' (bash, ksh, zsh)
_PARAM = 4  # ${ ... } written by the author
_SUB = 5  # $( ... ), with its own parenthesis depth
_TICK = 6  # ` ... `


class _Rewriter:
    def __init__(self, text: str, resolve: Resolve) -> None:
        self.text = text
        self.resolve = resolve
        self.out: list[str] = []
        self.values: dict[str, str] = {}
        self._names: dict[str, str] = {}  # reference as written -> variable name
        self.stack: list[list[int]] = [[_CODE, 0]]  # [state, parenthesis depth]
        self.heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, quoted, strip tabs)
        self.word_start = True

    # ------------------------------------------------------------------ bindings

    def variable(self, match: re.Match[str], value: str) -> str:
        braced, path, slicing, bare = match.groups()
        written = f"{braced or bare}{path or ''}{slicing or ''}"  # $1 and ${1} are one
        name = self._names.get(written)
        if name is None:
            name = self._new_name(match)
            self._names[written] = name
            self.values[name] = value
        return name

    def _new_name(self, match: re.Match[str]) -> str:
        braced, path, slicing, bare = match.group(1), match.group(2), match.group(3), match.group(4)
        simple = bare if bare is not None else braced
        if not path and not slicing and _IDENTIFIER.match(simple):
            candidate = f"PLAIT_V_{simple}"
        elif not path and not slicing and simple.isdigit():
            candidate = f"PLAIT_ARG_{simple}"
        else:
            candidate = f"PLAIT_REF_{len(self.values) + 1}"
        while candidate in self.values:
            candidate += "_"
        return candidate

    # ------------------------------------------------------------------ the scan

    def run(self) -> ShellText:
        text, n = self.text, len(self.text)
        i = 0
        while i < n:
            state = self.stack[-1][0]
            plain = _PLAIN.get(_CODE if state in (_SUB, _TICK, _PARAM) else state)
            run = None if plain is None else plain.match(text, i)
            if run is not None:  # nothing in it can change the state: copy it at once
                self._emit(run.group(0))
                self.word_start = False
                i = run.end()
                continue
            if state == _SINGLE:
                i = self._single(i, ansi=False)
            elif state == _ANSI:
                i = self._single(i, ansi=True)
            elif state == _DOUBLE:
                i = self._double(i)
            else:
                i = self._code(i)
            if i < n and text[i - 1 : i] == "\n" and self.heredocs and self._at_line_start(i):
                i = self._heredoc_bodies(i)
        return ShellText("".join(self.out), self.values)

    def _at_line_start(self, i: int) -> bool:
        return self.stack[-1][0] in (_CODE, _SUB, _TICK, _PARAM)

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)

    def _reference(self, i: int, quoting: int) -> int | None:
        """A reference at ``i`` that plait resolves: emit its variable; the index after it."""
        match = REFERENCE.match(self.text, i)
        if match is None:
            return None
        value = self.resolve(match)
        if value is None:
            return None
        name = self.variable(match, value)
        if quoting == _SINGLE:
            self._emit(f"'\"${{{name}}}\"'")
        elif quoting == _ANSI:
            self._emit(f"'\"${{{name}}}\"$'")
        else:
            self._emit(f"${{{name}}}")
        return match.end()

    def _single(self, i: int, *, ansi: bool) -> int:
        text = self.text
        char = text[i]
        if ansi and char == "\\" and i + 1 < len(text):
            self._emit(text[i : i + 2])
            return i + 2
        if char == "'":
            self.stack.pop()
            self._emit(char)
            return i + 1
        if char == "$":
            after = self._reference(i, _ANSI if ansi else _SINGLE)
            if after is not None:
                return after
        self._emit(char)
        return i + 1

    def _double(self, i: int) -> int:
        text = self.text
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            self._emit(text[i : i + 2])
            return i + 2
        if char == '"':
            self.stack.pop()
            self._emit(char)
            return i + 1
        if char == "$":
            return self._dollar(i, in_double=True)
        if char == "`":
            self.stack.append([_TICK, 0])
            self._emit(char)
            return i + 1
        self._emit(char)
        return i + 1

    def _code(self, i: int) -> int:
        text = self.text
        frame = self.stack[-1]
        state = frame[0]
        char = text[i]
        word_start, self.word_start = self.word_start, char in " \t\n;&|()<>"
        if char == "\\" and i + 1 < len(text):
            self._emit(text[i : i + 2])
            return i + 2
        if char == "'":
            self.stack.append([_SINGLE, 0])
        elif char == '"':
            self.stack.append([_DOUBLE, 0])
        elif char == "$":
            return self._dollar(i, in_double=False)
        elif char == "`":
            if state == _TICK:
                self.stack.pop()
            else:
                self.stack.append([_TICK, 0])
        elif char == "#" and word_start and state != _PARAM:
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            self._emit(text[i:end])  # a comment: nothing in it runs
            return end
        elif char == "(" and state == _SUB:
            frame[1] += 1
        elif char == ")" and state == _SUB:
            if frame[1] == 0:
                self.stack.pop()
            else:
                frame[1] -= 1
        elif char == "}" and state == _PARAM:
            self.stack.pop()
        elif char == "<" and state != _PARAM:
            heredoc = _HEREDOC.match(text, i)
            if heredoc is not None and not text.startswith("<<<", i):
                self._note_heredoc(heredoc)
                self._emit(heredoc.group(0))
                return heredoc.end()
        self._emit(char)
        return i + 1

    def _dollar(self, i: int, *, in_double: bool) -> int:
        text = self.text
        after = self._reference(i, _DOUBLE if in_double else _CODE)
        if after is not None:
            return after
        following = text[i + 1 : i + 2]
        if following == "(":
            self.stack.append([_SUB, 0])
            self._emit("$(")
            return i + 2
        if following == "{":
            self.stack.append([_PARAM, 0])
            self._emit("${")
            return i + 2
        if following == "'" and not in_double:
            self.stack.append([_ANSI, 0])
            self._emit("$'")
            return i + 2
        if following == '"' and not in_double:
            self.stack.append([_DOUBLE, 0])
            self._emit('$"')
            return i + 2
        self._emit("$")
        return i + 1

    # ------------------------------------------------------------------ here-documents

    def _note_heredoc(self, match: re.Match[str]) -> None:
        word = match.group(2)
        quoted = any(q in word for q in "'\"\\")
        delimiter = word.replace("'", "").replace('"', "").replace("\\", "")
        self.heredocs.append((delimiter, quoted, match.group(1) == "-"))

    def _heredoc_bodies(self, i: int) -> int:
        """The bodies of the here-documents opened on the line that just ended."""
        text = self.text
        pending, self.heredocs = self.heredocs, []
        for delimiter, quoted, strip_tabs in pending:
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end + 1
                line = text[i:end]
                bare = line.rstrip("\n")
                if (bare.lstrip("\t") if strip_tabs else bare) == delimiter:
                    self._emit(line)
                    i = end
                    break
                if quoted:
                    self._emit(self._pasted(line, delimiter, strip_tabs))
                else:
                    self._emit(self._expanding(line))
                i = end
        return i

    def _pasted(self, line: str, delimiter: str, strip_tabs: bool) -> str:
        """A line of a quoted here-document: the shell reads none of it, so values go in as
        text — unless a value holds a line that would end the document early."""

        pasted: list[str] = []

        def paste(match: re.Match[str]) -> str:
            value = self.resolve(match)
            if value is None:
                return match.group(0)
            pasted.append(match.group(0))
            return value

        result = REFERENCE.sub(paste, line)
        if pasted:
            for piece in result.split("\n"):
                if (piece.lstrip("\t") if strip_tabs else piece) == delimiter:
                    raise UnsafeValueError(
                        f"the value of {pasted[0]} holds the line {delimiter!r}, which would "
                        "end its here-document"
                    )
        return result

    def _expanding(self, line: str) -> str:
        """A line of a here-document whose delimiter is unquoted: the shell expands
        variables in it, so a reference becomes a variable as in double quotes."""
        out: list[str] = []
        i = 0
        while i < len(line):
            char = line[i]
            if char == "\\" and i + 1 < len(line):
                out.append(line[i : i + 2])
                i += 2
                continue
            if char == "$":
                match = REFERENCE.match(line, i)
                value = None if match is None else self.resolve(match)
                if match is not None and value is not None:
                    out.append(f"${{{self.variable(match, value)}}}")
                    i = match.end()
                    continue
            out.append(char)
            i += 1
        return "".join(out)


def rewrite(text: str, resolve: Resolve) -> ShellText:
    return _Rewriter(text, resolve).run()


_WORD = re.compile(r"""[ \t]*("[^"]*"|'[^']*'|[^ \t"']+)[ \t]*(?=[ \t]|$)""")
_UNQUOTED_SYNTAX = re.compile(r"""[|&;<>()`\\"'*?\[\]#~=%{}!\n$]""")
_DOUBLE_SYNTAX = re.compile(r'["\\`$]')
_PLAIN_LIMIT = 64 * 1024  # bigger values go through the shell, which reads them from files


def plain_argv(text: str, resolve: Resolve) -> list[str] | None:
    """See ``plait.expr.shell.plain_argv``."""
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
