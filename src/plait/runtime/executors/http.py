"""``http``: one HTTP request with httpx.

``command: METHOD URL``; settings (``config:``, or a JSON ``script``): ``headers``,
``query``, ``body``, ``timeout`` (seconds), ``silent``, ``debug``, ``json``,
``skipTLSVerify``. Printed to stdout, as the reference does: the status line and the headers,
then the body (``silent``: only the body, unless the status is not 2xx); with ``json``, one
JSON document ``{status_code, headers, body}``. A status other than 2xx fails the step (exit
code 1). Values in the URL, headers, query and body are text of their field.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from plait.runtime.executors import ExecutorFailure, StepIO

__all__ = ["run"]


def run(io: StepIO) -> int:
    import httpx

    config = _settings(io)
    method, url = _request_line(io)
    timeout = _timeout(io, config)
    try:
        with httpx.Client(
            timeout=timeout, verify=not config.get("skipTLSVerify", False), follow_redirects=True
        ) as client:
            request = client.build_request(
                method,
                url,
                headers={str(k): str(v) for k, v in (config.get("headers") or {}).items()},
                params={str(k): str(v) for k, v in (config.get("query") or {}).items()},
                content=str(config.get("body", "")).encode(),
            )
            if config.get("debug"):
                io.err(f"{request.method} {request.url}\n")
                for name, value in request.headers.items():
                    io.err(f"{name}: {value}\n")
            response = client.send(request)
    except httpx.TimeoutException:
        if io.deadline is not None and io.remaining_or_zero() <= 0.05:
            raise TimeoutError from None  # the step's timeoutSec
        raise ExecutorFailure(f"http: {method} {url}: no answer within {timeout:g}s") from None
    except httpx.HTTPError as error:
        raise ExecutorFailure(f"http: {method} {url}: {error}") from None
    ok = 200 <= response.status_code < 300
    if config.get("json"):
        _write_json(io, response, ok and bool(config.get("silent")))
    else:
        _write_text(io, response, ok and bool(config.get("silent")))
    if not ok:
        raise ExecutorFailure(f"http status code not 2xx: {response.status_code}")
    return 0


def _settings(io: StepIO) -> dict[str, Any]:
    config = io.config()
    script = io.step.script
    if script and script.strip():
        try:
            from_script = json.loads(io.expand(script))
        except ValueError as error:
            raise ExecutorFailure(f"http: the script is not JSON settings: {error}") from None
        if not isinstance(from_script, dict):
            raise ExecutorFailure("http: the script must be a JSON object of settings")
        config = {**config, **from_script}
    return config


def _request_line(io: StepIO) -> tuple[str, str]:
    words = shlex.split(io.command().strip())
    if len(words) < 2:
        raise ExecutorFailure("http: the command must be `METHOD URL`")
    return words[0].upper(), io.expand(words[1])


def _timeout(io: StepIO, config: dict[str, Any]) -> float | None:
    configured = float(config.get("timeout") or 0) or None
    left = io.remaining()
    if left is None:
        return configured
    return left if configured is None else min(configured, left)


def _write_text(io: StepIO, response: Any, body_only: bool) -> None:
    if not body_only:
        io.out(f"{response.http_version} {response.status_code} {response.reason_phrase}\n")
        for name, value in response.headers.items():
            io.out(f"{name}: {value}\n")
        io.out("\n")
    io.stdout.write(response.content)


def _write_json(io: StepIO, response: Any, body_only: bool) -> None:
    try:
        body = response.json()
    except ValueError:
        raise ExecutorFailure("http: `json: true` but the response body is not JSON") from None
    result: dict[str, Any] = {}
    if not body_only:
        headers: dict[str, list[str]] = {}
        for name, value in response.headers.multi_items():
            headers.setdefault(name, []).append(value)
        result = {"status_code": response.status_code, "headers": headers}
    result["body"] = body
    io.out(json.dumps(result, indent=1, ensure_ascii=False))
