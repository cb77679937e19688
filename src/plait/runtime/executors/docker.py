"""``docker``: run the step's command in a new container of ``image``, or exec it in a running
container (``containerName`` without ``image``), with Docker's Python SDK.

Settings: ``image``, ``containerName``, ``pull`` (``always``, ``missing`` — the default —,
``never``), ``platform``, ``autoRemove``, ``keepContainer``, ``workingDir``, ``volumes``
(``HOST:CONTAINER[:ro]``), ``env`` (``NAME=value``), and Docker's own ``container``, ``host``,
``network`` and ``exec`` settings. The engine is the one ``DOCKER_HOST`` names (else the local
socket); when none answers, the run is refused at its start, naming the step (see
``engine_problem``). The command is given to the container as its argv (split like a shell
line, values inserted as words), so no shell of the host reads it.
"""

from __future__ import annotations

import os
import shlex
import time
from typing import Any

from plait.runtime.executors import ExecutorFailure, StepIO

__all__ = ["engine_problem", "run"]

_POLL_SECONDS = 0.1


def engine_problem() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:  # the SDK raises many kinds: all mean "no engine"
        text = str(error)
        if "FileNotFoundError" in text or "No such file" in text:
            reason = "no socket there"
        elif "Connection refused" in text or "ConnectionRefused" in text:
            reason = "nothing listens there"
        else:
            reason = text.splitlines()[0] if text else type(error).__name__
        return f"no Docker engine at DOCKER_HOST ({where}): {reason}"
    return None


def run(io: StepIO) -> int:
    import docker
    from docker.errors import APIError, DockerException, ImageNotFound

    config = io.config()
    argv = _argv(io)
    try:
        client = docker.from_env(timeout=30)
    except DockerException as error:
        raise ExecutorFailure(f"docker: {error}") from None
    try:
        if config.get("containerName") and not config.get("image"):
            return _exec(io, client, config, argv)
        _pull(client, config)
        return _new_container(io, client, config, argv)
    except ImageNotFound as error:
        raise ExecutorFailure(f"docker: image not found: {error.explanation}") from None
    except APIError as error:
        raise ExecutorFailure(f"docker: {error.explanation or error}") from None
    except DockerException as error:
        raise ExecutorFailure(f"docker: {error}") from None
    finally:
        client.close()


def _argv(io: StepIO) -> list[str] | None:
    command = io.command().strip()
    if not command:
        return None
    resolve = io.execution.scope.resolver(io.env_only(), everything=True)
    from plait.expr import plain_argv

    argv = plain_argv(command, resolve)
    if argv is None:  # shell syntax: the container's shell runs it, values as its variables
        text = io.execution.scope.shell(command, io.env_only(), everything=True)
        assignments = "".join(f"{k}={shlex.quote(v)}; " for k, v in text.values.items())
        return ["sh", "-c", assignments + text.text]
    return argv


def _pull(client: Any, config: dict[str, Any]) -> None:
    from docker.errors import ImageNotFound

    policy = config.get("pull", "missing")
    image = str(config["image"])
    if policy == "never":
        return
    if policy == "missing":
        try:
            client.images.get(image)
            return
        except ImageNotFound:
            pass
    client.images.pull(image, platform=config.get("platform") or None)


def _new_container(io: StepIO, client: Any, config: dict[str, Any], argv: list[str] | None) -> int:
    options: dict[str, Any] = dict(config.get("container") or {})
    host: dict[str, Any] = dict(config.get("host") or {})
    env = [str(e) for e in config.get("env") or []] + list(options.pop("env", None) or [])
    volumes = [str(v) for v in config.get("volumes") or []] + list(host.pop("binds", None) or [])
    container = client.containers.create(
        str(config["image"]),
        command=argv,
        name=config.get("containerName") or None,
        environment=env or None,
        working_dir=config.get("workingDir") or options.pop("working_dir", None),
        volumes=volumes or None,
        platform=config.get("platform") or None,
        detach=True,
    )
    try:
        container.start()
        return _follow(io, container)
    finally:
        keep = config.get("keepContainer") and not config.get("autoRemove")
        if not keep:
            try:
                container.remove(force=True)
            except Exception:
                pass


def _follow(io: StepIO, container: Any) -> int:
    stream = container.attach(stream=True, logs=True, stdout=True, stderr=True, demux=True)
    for out, err in stream:
        if out:
            io.stdout.write(out)
        if err:
            io.stderr.write(err)
        if io.stopping:
            container.stop(timeout=5)
            return 143
        io.remaining()
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            return int(container.attrs["State"]["ExitCode"])
        io.remaining()
        time.sleep(_POLL_SECONDS)


def _exec(io: StepIO, client: Any, config: dict[str, Any], argv: list[str] | None) -> int:
    if argv is None:
        raise ExecutorFailure("docker: exec into a container needs a command")
    container = client.containers.get(str(config["containerName"]))
    options = dict(config.get("exec") or {})
    result = client.api.exec_create(
        container.id,
        argv,
        workdir=config.get("workingDir") or options.get("WorkingDir"),
        environment=[str(e) for e in config.get("env") or []] or options.get("Env"),
        user=options.get("User") or "",
    )
    for out, err in client.api.exec_start(result["Id"], stream=True, demux=True):
        if out:
            io.stdout.write(out)
        if err:
            io.stderr.write(err)
        io.remaining()
    return int(client.api.exec_inspect(result["Id"])["ExitCode"])
