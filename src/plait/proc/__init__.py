"""The only place that creates OS processes: process groups, log streams, timeouts, stop."""

from plait.proc.command import ShellChoice, command_argv, needs_shell, shell_for
from plait.proc.process import StepProcess, capture

__all__ = ["ShellChoice", "StepProcess", "capture", "command_argv", "needs_shell", "shell_for"]
