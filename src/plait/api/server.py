"""The FastAPI app of a plait home, and ``plait server``: uvicorn on 127.0.0.1 by default."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plait.api.errors import install_error_handlers
from plait.api.events import RunWatcher
from plait.api.limits import BodyLimit, SecurityHeaders
from plait.api.security import Auth, Guard, is_loopback
from plait.api.services import Services
from plait.store import Home

__all__ = ["ServerTiming", "check_exposure", "create_app", "serve"]

_DESCRIPTION = """The REST API of plait: workflows, runs at any depth, logs, queues.

State-changing requests (POST, PUT, DELETE) need the header `X-Plait-Request: 1` or a bearer
token. Live updates come as Server-Sent Events from `/api/v1/events` and
`/api/v1/runs/{runId}/steps/{step}/log/stream`.
"""


def create_app(home: Home, *, auth: Auth | None = None, loopback: bool = True) -> FastAPI:
    """The API and UI of ``home``; ``auth`` None reads ``PLAIT_AUTH_BASIC``/``PLAIT_AUTH_TOKEN``.
    ``loopback``: served on 127.0.0.1 only, so without auth only local Host names are let in."""
    from plait import __version__
    from plait.api import control, events, runs, static, system, webhooks, workflows
    from plait.spec import cron

    cron.FULL_CHECK = True  # what the server shows is checked as the scheduler will read it
    services = Services(home)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="plait",
        version=__version__,
        description=_DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.watcher = RunWatcher(services.browse)
    install_error_handlers(app)
    for module in (system, workflows, webhooks, control, runs, events, static):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, limit=services.config().max_request_size)
    app.add_middleware(
        Guard, auth=auth if auth is not None else Auth.from_env(), local_only=loopback
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ServerTiming)
    return app


class ServerTiming:
    """ASGI middleware: a ``Server-Timing: app;dur=<ms>`` header on every response, so that
    clients and benchmarks can tell the server's time from the network's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - began) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={took:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)


def check_exposure(host: str, auth: Auth, *, insecure_no_auth: bool) -> None:
    """Refuse to serve other machines without authentication, unless told to at the
    command line (then say so loudly).

    Raises:
        UsageError: ``host`` is reachable from other machines and no auth is set.
    """
    if is_loopback(host) or auth.enabled:
        return
    if not insecure_no_auth:
        from plait.errors import UsageError

        raise UsageError(
            f"refusing to listen on {host} without authentication: anyone who can connect "
            "could run shell commands. Set PLAIT_AUTH_BASIC=user:password or "
            "PLAIT_AUTH_TOKEN=..., bind to 127.0.0.1, or pass --insecure-no-auth"
        )
    banner = "!" * 78
    print(
        f"{banner}\nplait: WARNING: listening on {host}, reachable from other machines, "
        "WITHOUT authentication (--insecure-no-auth).\nAnyone who can connect can start "
        f"and stop runs, which run shell commands.\n{banner}",
        file=sys.stderr,
        flush=True,
    )


def serve(
    home: Home, *, host: str = "127.0.0.1", port: int = 8080, insecure_no_auth: bool = False
) -> None:
    """Run the server until interrupted (``plait server``)."""
    import uvicorn

    auth = Auth.from_env()
    check_exposure(host, auth, insecure_no_auth=insecure_no_auth)
    app = create_app(home, auth=auth, loopback=is_loopback(host))
    print(f"plait server: http://{host}:{port}/ (API docs at /api/docs)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
