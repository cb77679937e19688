"""One step process: its own process group, stdout and stderr streamed to its logs."""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping

from plait.expr import ShellText
from plait.proc.sink import LogSink
from plait.proc.values import deliver

__all__ = ["LineStream", "StepProcess", "capture"]

NOT_FOUND_EXIT = 127
_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR
_CHUNK = 64 * 1024
_POLL_MS = 250  # how often a step without a pidfd is checked for its exit
_HAS_PIDFD = hasattr(os, "pidfd_open")
_FIRST_LOOK = 0.05  # seconds a step's pipes are read before its exit is watched too
_SIGTERM = signal.SIGTERM
_SIGKILL = signal.SIGKILL


class StepProcess:
    """A running step: started in a new session so that stop reaches everything it spawned.

    Its stdout and stderr come through pipes into their ``LogSink`` (masked, capped), read by
    the thread that waits for the step. When the step's leader exits while something it left
    behind still holds a pipe, the rest of the stream is handed to one shared thread, so the
    step ends with its leader and the leftover's output still reaches the log.
    """

    def __init__(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: str | None,
        stdout: LogSink,
        stderr: LogSink,
    ) -> None:
        self.argv = argv
        self.pid: int | None = None
        self._popen: subprocess.Popen[bytes] | None = None
        self._exit: int | None = None
        self._sinks: dict[int, LogSink] = {}
        self._poll = select.poll()
        self._pidfd: int | None = None
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        try:
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out_write,
                stderr=err_write,
                env=env,
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
            self.pid = self._popen.pid
        except FileNotFoundError as error:
            missing = error.filename or argv[0]
            if cwd is not None and not os.path.isdir(cwd):
                stderr.write(f"plait: working directory {cwd} does not exist\n".encode())
            else:
                stderr.write(f"plait: {missing}: command not found\n".encode())
            self._exit = NOT_FOUND_EXIT
        except PermissionError as error:
            stderr.write(f"plait: {error.filename or argv[0]}: permission denied\n".encode())
            self._exit = 126
        except (OSError, ValueError) as error:  # ValueError: a NUL in argv or env
            reason = getattr(error, "strerror", None) or str(error)
            stderr.write(f"plait: cannot start {argv[0]}: {reason}\n".encode())
            self._exit = 126
        finally:
            os.close(out_write)
            os.close(err_write)
        for fd, sink in ((out_read, stdout), (err_read, stderr)):
            self._sinks[fd] = sink
            self._poll.register(fd, _READABLE)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (negative: killed by that signal), or None if still running after
        ``timeout`` seconds. Copies the step's output into its logs meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        exited = self._popen is None
        if self._sinks and not exited:
            # Most steps are done in a moment: their pipes close as they exit. Only a step
            # still going after that is watched for its exit (a pidfd), in case something it
            # started keeps the pipes open after it.
            first = _FIRST_LOOK if deadline is None else min(_FIRST_LOOK, max(timeout or 0, 0))
            self._pump(first, look=False)
            if self._sinks:
                self._watch_exit()
        while self._sinks:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            exited = exited or self._pump(remaining)
            if exited:
                self._pump(0)  # what is already in the pipes
                if self._sinks:
                    _orphans.adopt(self._sinks)
                    self._sinks = {}
        self._close_pidfd()
        if self._popen is None:
            return self._exit
        try:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
            return self._popen.wait(remaining)
        except subprocess.TimeoutExpired:
            return None

    def _watch_exit(self) -> None:
        if self.pid is None or not _HAS_PIDFD:
            return
        try:
            self._pidfd = os.pidfd_open(self.pid)
            self._poll.register(self._pidfd, _READABLE)
        except OSError:
            self._pidfd = None

    def _pump(self, timeout: float | None, look: bool = True) -> bool:
        """Copy what the pipes hold, waiting up to ``timeout``; True once the leader exited
        (known only when ``look``)."""
        wait_ms = None if timeout is None else math.ceil(timeout * 1000)
        if self._pidfd is None and look:  # the exit is noticed by looking now and then
            wait_ms = _POLL_MS if wait_ms is None else min(wait_ms, _POLL_MS)
        exited = False
        for fd, _ in self._poll.poll(wait_ms):
            if fd == self._pidfd:
                exited = True
                continue
            sink = self._sinks.get(fd)
            if sink is None:
                continue
            data = os.read(fd, _CHUNK)
            if data:
                sink.write(data)
            else:
                self._poll.unregister(fd)
                os.close(fd)
                del self._sinks[fd]
                sink.close()
        if not look:
            return False
        if self._pidfd is None:
            return self._popen is None or self._popen.poll() is not None
        return exited

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

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


class _Orphans:
    """One thread for the streams still open after their step's leader exited.

    When plait exits with such streams open (a step started a daemon that writes to its
    stdout), a small child process takes them over: closing them would kill the daemon with
    SIGPIPE at its next write.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[int, LogSink] = {}
        self._poll = select.poll()
        self._thread: threading.Thread | None = None
        self._at_exit = False

    def adopt(self, sinks: dict[int, LogSink]) -> None:
        with self._lock:
            for fd, sink in sinks.items():
                self._sinks[fd] = sink
                self._poll.register(fd, _READABLE)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="orphan-logs", daemon=True)
                self._thread.start()
            if not self._at_exit:
                import atexit

                atexit.register(self.detach)
                self._at_exit = True

    def detach(self) -> None:
        """Hand the open streams to a child process of their own, which copies them to their
        logs until they close (at plait's exit)."""
        with self._lock:
            sinks, self._sinks = self._sinks, {}
            for fd in sinks:
                self._poll.unregister(fd)
        if not sinks:
            return
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:  # the child: nothing but the copy, then out
            try:
                os.setsid()
                _copy_until_closed(sinks)
            finally:
                os._exit(0)
        for fd, sink in sinks.items():
            os.close(fd)
            if pid < 0:
                sink.close()
            else:
                sink.abandon()  # the child writes what is left

    def _run(self) -> None:
        while True:
            for fd, _ in self._poll.poll(_POLL_MS):
                with self._lock:
                    sink = self._sinks.get(fd)
                if sink is None:
                    continue
                data = os.read(fd, _CHUNK)
                if data:
                    sink.write(data)
                    continue
                with self._lock:
                    self._poll.unregister(fd)
                    del self._sinks[fd]
                os.close(fd)
                sink.close()
            with self._lock:
                if not self._sinks:
                    self._thread = None
                    return


def _copy_until_closed(sinks: dict[int, LogSink]) -> None:
    poll = select.poll()
    for fd in sinks:
        poll.register(fd, _READABLE)
    while sinks:
        for fd, _ in poll.poll():
            data = os.read(fd, _CHUNK)
            if data:
                sinks[fd].write(data)
                continue
            poll.unregister(fd)
            sinks.pop(fd).close()


_orphans = _Orphans()


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


class LineStream:
    """The stdout of ``command`` (run through the shell, its values bound as variables), line
    by line as it writes them, without holding more than a line: a fan-out's items. Iterate,
    then ``close`` (which kills the command's process group if it is still running) and read
    ``returncode`` and ``stderr_tail``."""

    def __init__(
        self,
        command: ShellText,
        *,
        env: Mapping[str, str],
        cwd: str | None = None,
        shell: str | None = None,
    ) -> None:
        self._delivery = deliver(command, env)
        argv = (shell.split() if shell else ["sh"]) + ["-c", self._delivery.text]
        self.returncode: int | None = None
        self.stderr_tail = ""
        self._read_all = False
        try:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._delivery.env,
                cwd=cwd,
                start_new_session=True,
            )
        except (OSError, ValueError):
            self._delivery.close()
            self._process = None
            self.returncode = NOT_FOUND_EXIT
            return
        # stderr is read on a thread of its own (a command writing much to it must not stall)
        self._stderr = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr.start()

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        tail = b""
        for chunk in iter(lambda: self._process.stderr.read(_CHUNK), b""):  # type: ignore[union-attr]
            tail = (tail + chunk)[-2000:]
        self.stderr_tail = tail.decode(errors="replace").strip()

    def __iter__(self) -> Iterator[str]:
        if self._process is None or self._process.stdout is None:
            return
        for line in self._process.stdout:
            yield line.decode(errors="replace")
        self._read_all = True

    def close(self) -> int:
        """End the command (its process group, if it is still running): its exit code."""
        process = self._process
        if process is None:
            return self.returncode if self.returncode is not None else NOT_FOUND_EXIT
        if not self._read_all and process.poll() is None and process.stdout is not None:
            # the reader stopped early (a failure, a stop): the rest is not wanted
            process.stdout.close()
            try:
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, _SIGKILL)
        self.returncode = process.wait()
        self._stderr.join(timeout=5)
        self._delivery.close()
        if process.stdout is not None:
            process.stdout.close()
        return self.returncode
