"""How the values bound by shell text reach the shell, whatever their size.

Small values go in the environment of the shell. A value too big for it (the kernel limits one
environment string to 128 KiB and the whole of argv and environment to about 2 MiB) goes in a
private file that the text reads into its variable before anything else runs, keeping every
byte (trailing newlines included). So no step fails because a value it uses is big.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from plait.expr import ShellText

__all__ = ["ENV_VALUES_TOTAL_LIMIT", "ENV_VALUE_LIMIT", "Delivery", "deliver"]

ENV_VALUE_LIMIT = 32 * 1024
ENV_VALUES_TOTAL_LIMIT = 256 * 1024


class Delivery:
    """Shell text ready to run: its text (with what reads the big values first), the
    environment that carries the small ones, and the files to remove afterwards."""

    __slots__ = ("env", "files", "text")

    def __init__(self, text: str, env: dict[str, str], files: list[str]) -> None:
        self.text = text
        self.env = env
        self.files = files

    def close(self) -> None:
        for path in self.files:
            try:
                os.unlink(path)
            except OSError:
                pass
        self.files = []


def deliver(
    shell_text: ShellText,
    env: Mapping[str, str],
    folder: str | None = None,
    *,
    header: bool = False,
) -> Delivery:
    """Bind the values of ``shell_text`` for a POSIX shell.

    Args:
        env: the environment the shell gets; the small values are added to a copy of it
            (without values, ``env`` itself is used).
        folder: where the files of big values go (private, removed by ``Delivery.close``).
        header: the text is a script whose first line may be ``#!``: the reads go after it.
    """
    if not shell_text.values:
        return Delivery(shell_text.text, dict(env) if not isinstance(env, dict) else env, [])
    out = dict(env)
    total = 0
    reads: list[str] = []
    files: list[str] = []
    for name, value in shell_text.values.items():
        size = len(value.encode("utf-8", "surrogateescape"))
        if size <= ENV_VALUE_LIMIT and total + size <= ENV_VALUES_TOTAL_LIMIT and "\0" not in value:
            out[name] = value
            total += size
            continue
        out.pop(name, None)
        path = _value_file(value, folder)
        files.append(path)
        import shlex

        quoted = shlex.quote(path)
        # `printf x` keeps trailing newlines, which $(...) would strip; then x is cut off.
        reads.append(f"{name}=$(cat {quoted}; printf x); {name}=${{{name}%x}}")
    return Delivery(_with_reads(shell_text.text, reads, header), out, files)


def _value_file(value: str, folder: str | None) -> str:
    import tempfile  # only for big values: it costs a start of plait 4 ms

    descriptor, path = tempfile.mkstemp(prefix=".value-", dir=folder)  # mode 0600
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(value.replace("\0", "").encode("utf-8", "surrogateescape"))
    return path


def _with_reads(text: str, reads: list[str], header: bool) -> str:
    if not reads:
        return text
    preamble = "\n".join(reads) + "\n"
    if header and text.startswith("#!"):
        first, newline, rest = text.partition("\n")
        return f"{first}{newline or chr(10)}{preamble}{rest}"
    return preamble + text
