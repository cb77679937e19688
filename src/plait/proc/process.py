"""One step process: its own process group, stdout and stderr streamed to files."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping

from plait.expr import ShellText
from plait.proc.values import deliver

__all__ = ["StepProcess", "capture"]

NOT_FOUND_EXIT = 127
_SIGTERM = signal.SIGTERM
_SIGKILL = signal.SIGKILL


class StepProcess:
    """A running step: started in a new session so that stop reaches everything it spawned."""

    def __init__(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: str | None,
        stdout_path: str,
        stderr_path: str,
    ) -> None:
        self.argv = argv
        self.pid: int | None = None
        self._popen: subprocess.Popen[bytes] | None = None
        self._exit: int | None = None
        with open(stdout_path, "ab") as out, open(stderr_path, "ab") as err:
            try:
                self._popen = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=dict(env),
                    cwd=cwd,
                    start_new_session=True,
                    close_fds=True,
                )
                self.pid = self._popen.pid
            except FileNotFoundError as error:
                missing = error.filename or argv[0]
                if cwd is not None and not os.path.isdir(cwd):
                    err.write(f"plait: working directory {cwd} does not exist\n".encode())
                else:
                    err.write(f"plait: {missing}: command not found\n".encode())
                self._exit = NOT_FOUND_EXIT
            except PermissionError as error:
                err.write(f"plait: {error.filename or argv[0]}: permission denied\n".encode())
                self._exit = 126
            except OSError as error:
                err.write(f"plait: cannot start {argv[0]}: {error.strerror}\n".encode())
                self._exit = 126

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (negative: killed by that signal), or None if still running."""
        if self._popen is None:
            return self._exit
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the step's whole process group."""
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def drain(self, grace: float) -> None:
        """After the leader exited on a stop: give the rest of its group ``grace`` seconds
        to end, then SIGKILL what is left."""
        if self.pid is None:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(self.pid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)
        self.signal(_SIGKILL)

    def stop(self, sig: int = _SIGTERM, grace: float = 5.0) -> int | None:
        """Signal the group, wait up to ``grace`` seconds, then SIGKILL it."""
        self.signal(sig)
        code = self.wait(grace)
        self.signal(_SIGKILL)  # also reaches what the step left behind in its group
        if code is None:
            code = self.wait(5.0)
        return code


def capture(
    command: str | ShellText,
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    shell: str | None = None,
    timeout: float | None = 60.0,
) -> tuple[int, str]:
    """Run ``command`` through the shell and return (exit code, stdout) — for backticks and
    conditions, whose output is small. The values of a ``ShellText`` are bound as its
    variables."""
    text = command if isinstance(command, ShellText) else ShellText(command, {})
    delivery = deliver(text, env)
    argv = (shell.split() if shell else ["sh"]) + ["-c", delivery.text]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=delivery.env,
            cwd=cwd,
            timeout=timeout,
            start_new_session=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -_SIGKILL, ""
    except (OSError, ValueError):  # ValueError: a NUL in the environment
        return NOT_FOUND_EXIT, ""
    finally:
        delivery.close()
    return done.returncode, done.stdout.decode(errors="replace")
