"""``ssh``: run the step's command on another host with paramiko, streaming its output.

Settings (the step's ``config:`` over the workflow's ``ssh:``): ``user``, ``host``, ``port``
(22), ``key`` (a private key file), ``password``, ``strictHostKey`` (true: the host's key must
be in ``knownHostFile``, default ``~/.ssh/known_hosts``), ``shell`` and ``shellArgs`` (the
remote program that runs the command; else the remote user's login shell), ``timeout``
(seconds to connect, 30). Each command of a ``command:`` list runs in turn and the first that
fails ends the step, with its exit code.

Values are data: the remote shell gets each run-time value as a variable assigned, quoted, in
front of the command (``PLAIT_V_X='...'; echo "${PLAIT_V_X}"``), never as command text.
"""

from __future__ import annotations

import os
import shlex
import time
from typing import Any

from plait.runtime.executors import ExecutorFailure, StepIO

__all__ = ["run"]

_POLL_SECONDS = 0.05


def run(io: StepIO) -> int:
    import paramiko

    config = io.config()
    host = str(config.get("host") or "")
    if not host:
        raise ExecutorFailure("ssh: no host (set `host` in the step's config or in `ssh:`)")
    client = paramiko.SSHClient()
    _host_keys(client, config)
    try:
        client.connect(
            host,
            port=int(config.get("port") or 22),
            username=str(config.get("user") or os.environ.get("USER", "")) or None,
            password=str(config["password"]) if config.get("password") else None,
            key_filename=os.path.expanduser(str(config["key"])) if config.get("key") else None,
            timeout=float(config.get("timeout") or 30),
            allow_agent=False,
            look_for_keys=not config.get("key") and not config.get("password"),
        )
    except paramiko.BadHostKeyException:
        raise ExecutorFailure(f"ssh: the host key of {host} does not match known hosts") from None
    except paramiko.SSHException as error:
        raise ExecutorFailure(f"ssh: {host}: {error}") from None
    except OSError as error:
        raise ExecutorFailure(f"ssh: cannot connect to {host}: {error.strerror or error}") from None
    try:
        for command in _commands(io):
            code = _run_one(io, client, _remote_text(io, config, command))
            if code != 0:
                return code
        return 0
    finally:
        client.close()


def _host_keys(client: Any, config: dict[str, Any]) -> None:
    import paramiko

    strict = config.get("strictHostKey", True)
    if isinstance(strict, str):
        strict = strict.strip().lower() not in ("false", "0", "no")
    known = os.path.expanduser(str(config.get("knownHostFile") or "~/.ssh/known_hosts"))
    if os.path.isfile(known):
        client.load_host_keys(known)
    if strict:
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    else:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())


def _commands(io: StepIO) -> list[str]:
    command = io.step.command
    if command is None:
        return [io.step.script] if io.step.script else []
    return [command] if isinstance(command, str) else list(command)


def _remote_text(io: StepIO, config: dict[str, Any], command: str) -> str:
    """The text the remote side runs: values assigned first, quoted, then the command. The
    remote host has none of this run's environment, so every name plait knows is sent."""
    text = io.execution.scope.shell(command, io.env_only(), everything=True)
    assignments = "".join(f"{name}={shlex.quote(value)}; " for name, value in text.values.items())
    body = assignments + text.text
    shell = str(config.get("shell") or "").strip()
    if not shell:
        return body
    words = [*shlex.split(shell), *[str(a) for a in config.get("shellArgs") or []]]
    return " ".join(shlex.quote(w) for w in words) + " -c " + shlex.quote(body)


def _run_one(io: StepIO, client: Any, text: str) -> int:
    transport = client.get_transport()
    channel = transport.open_session()
    try:
        channel.exec_command(text)
        while True:
            moved = _drain(io, channel)
            if (
                channel.exit_status_ready()
                and not channel.recv_ready()
                and not (channel.recv_stderr_ready())
            ):
                break
            if io.stopping:
                channel.close()
                return 143
            io.remaining()  # raises TimeoutError when the step's time is up
            if not moved:
                time.sleep(_POLL_SECONDS)
        _drain(io, channel)
        return int(channel.recv_exit_status())
    finally:
        channel.close()


def _drain(io: StepIO, channel: Any) -> bool:
    moved = False
    while channel.recv_ready():
        io.stdout.write(channel.recv(65536))
        moved = True
    while channel.recv_stderr_ready():
        io.stderr.write(channel.recv_stderr(65536))
        moved = True
    return moved
