"""The only place that creates OS processes: process groups, log streams, timeouts, stop."""

from plait.proc.command import (
    ShellChoice,
    command_argv,
    is_posix_shell,
    is_shell_word,
    needs_shell,
    script_is_posix,
    shell_for,
)
from plait.proc.process import LineStream, StepProcess, capture

__all__ = [
    "LineStream",
    "ShellChoice",
    "StepProcess",
    "capture",
    "command_argv",
    "is_posix_shell",
    "is_shell_word",
    "needs_shell",
    "script_is_posix",
    "shell_for",
]
