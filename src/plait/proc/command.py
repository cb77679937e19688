"""How a step's ``command``/``script``/``shell`` becomes the argv of a process.

As in the reference engine: commands run through ``$SHELL`` (or ``sh``) with ``-e``; a shell
set on the workflow also gets ``-e``, a shell set on the step runs exactly as written; a list
``command`` is several commands run one after the other.
"""

from __future__ import annotations

import os
import shlex

__all__ = [
    "ShellChoice",
    "command_argv",
    "is_posix_shell",
    "is_shell_word",
    "needs_shell",
    "script_is_posix",
    "shell_for",
]

# Characters that only a shell gives meaning to; a command without them runs without a shell.
_SHELL_SYNTAX = frozenset("|&;<>()$`\\\"'*?[]#~=%{}!\n")
# Words a shell runs itself: a command starting with one always goes through the shell.
_SHELL_WORDS = frozenset(
    [
        "alias",
        "bg",
        "break",
        "builtin",
        "cd",
        "command",
        "continue",
        "declare",
        "eval",
        "exec",
        "exit",
        "export",
        "fc",
        "fg",
        "getopts",
        "hash",
        "jobs",
        "let",
        "local",
        "read",
        "readonly",
        "return",
        "set",
        "shift",
        "source",
        "test",
        "times",
        "trap",
        "type",
        "typeset",
        "ulimit",
        "umask",
        "unalias",
        "unset",
        "wait",
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "function",
        "select",
        "time",
        ".",
        ":",
        "[[",
        "{",
        "}",
    ]
)
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh"})


class ShellChoice:
    """The shell argv for a step and whether the user chose it (then it is always used)."""

    __slots__ = ("argv", "explicit")

    def __init__(self, argv: list[str], explicit: bool) -> None:
        self.argv = argv
        self.explicit = explicit


def needs_shell(command: str) -> bool:
    return any(char in _SHELL_SYNTAX for char in command)


def is_shell_word(word: str) -> bool:
    """Whether a command starting with ``word`` is something only a shell can run."""
    return word in _SHELL_WORDS


def is_posix_shell(program: str) -> bool:
    """Whether ``program`` (a path or a name) is a shell of the POSIX family."""
    return os.path.basename(program) in _POSIX_SHELLS


def script_is_posix(script: str, program: str | tuple[str, ...] | None, shell: ShellChoice) -> bool:
    """Whether a POSIX shell reads ``script``: run by ``program`` (``command: python3``), by
    its ``#!`` line, or by the step's shell."""
    if program:
        words = list(program) if isinstance(program, tuple) else shlex.split(program)
        return bool(words) and is_posix_shell(words[0])
    if not shell.explicit and script.startswith("#!"):
        words = script[2:].partition("\n")[0].split()
        if words and os.path.basename(words[0]) == "env":
            words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        return bool(words) and is_posix_shell(words[0])
    return bool(shell.argv) and is_posix_shell(shell.argv[0])


def shell_for(
    step_shell: str | None, workflow_shell: str | None, environ: dict[str, str]
) -> ShellChoice:
    if step_shell:
        return ShellChoice(shlex.split(step_shell), True)
    if workflow_shell:
        argv = shlex.split(workflow_shell)
        if os.path.basename(argv[0]) in _POSIX_SHELLS and "-e" not in argv:
            argv.append("-e")
        return ShellChoice(argv, True)
    # The user's login shell, if it is a POSIX one (a fish or nu login shell would not read
    # the dialect's commands, nor their variables, the way a workflow means them).
    login = environ.get("SHELL") or "sh"
    return ShellChoice([login if is_posix_shell(login) else "sh", "-e"], False)


def command_argv(
    command: str | tuple[str, ...] | None,
    script_path: str | None,
    shell: ShellChoice,
) -> list[str]:
    """The argv that runs a step.

    - a ``script`` (already written to ``script_path``) runs as ``COMMAND SCRIPT`` when a
      command is given (``command: python3``), else as ``SHELL SCRIPT``, or on its own when it
      starts with ``#!`` and no shell was chosen;
    - a list ``command`` runs its commands in order, stopping at the first that fails;
    - a string ``command`` runs as ``SHELL -c COMMAND``, or directly when it is one plain
      program with arguments and no shell was chosen (the same result, one process less).
    """
    if script_path is not None:
        if not shell.explicit:
            with open(script_path, "rb") as handle:
                if handle.read(2) == b"#!":
                    return [script_path]
        if command:  # `command: python3` + `script:` runs the script with that program
            program = list(command) if isinstance(command, tuple) else shlex.split(command)
            return [*program, script_path]
        return [*shell.argv, script_path]
    if isinstance(command, tuple):
        return [*shell.argv, "-c", "\n".join(command)]
    if command is None:
        raise ValueError("a step needs a command or a script")
    if not shell.explicit and not needs_shell(command):
        argv = shlex.split(command)
        if argv and argv[0] not in _SHELL_WORDS:
            return argv
    return [*shell.argv, "-c", command]
