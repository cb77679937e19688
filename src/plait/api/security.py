"""Who may call the API, and why a web page on another site cannot act through a browser.

Auth (optional): HTTP basic (``PLAIT_AUTH_BASIC=user:pass``) and API tokens
(``PLAIT_AUTH_TOKEN=...`` sent as ``Authorization: Bearer ...``); ``/health`` stays open, and
a webhook call (``POST /api/v1/webhooks/NAME``) is checked by its workflow's own credentials.
CSRF: a state-changing request (POST, PUT, PATCH, DELETE) must carry ``X-Plait-Request: 1``
or a bearer token. A browser sends a custom header cross-site only after a CORS preflight,
and this server answers no preflight, so a forged form or fetch from another origin is refused.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["CSRF_HEADER", "Auth", "Guard", "is_loopback"]

CSRF_HEADER = "x-plait-request"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_OPEN_PATHS = frozenset({"/health"})
# A webhook call is authenticated by its workflow's own token or signature (api.webhooks):
# its callers are other systems, which have neither the server's credentials nor a CSRF header.
_SELF_AUTHENTICATED = "/api/v1/webhooks/"


@dataclass(frozen=True, slots=True)
class Auth:
    """The credentials the server accepts; with neither set, anyone who can connect may call."""

    basic: tuple[str, str] | None = None
    tokens: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.basic is not None or bool(self.tokens)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Auth:
        env = os.environ if environ is None else environ
        basic: tuple[str, str] | None = None
        raw = env.get("PLAIT_AUTH_BASIC", "")
        if raw:
            user, sep, password = raw.partition(":")
            if not sep or not user:
                from plait.errors import UsageError

                raise UsageError("PLAIT_AUTH_BASIC must be USER:PASSWORD")
            basic = (user, password)
        tokens = tuple(t for t in env.get("PLAIT_AUTH_TOKEN", "").split(",") if t.strip())
        return cls(basic=basic, tokens=tuple(t.strip() for t in tokens))

    def bearer_ok(self, token: str) -> bool:
        return any(hmac.compare_digest(token.encode(), t.encode()) for t in self.tokens)

    def basic_ok(self, encoded: str) -> bool:
        if self.basic is None:
            return False
        try:
            given = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        expected = f"{self.basic[0]}:{self.basic[1]}"
        return hmac.compare_digest(given.encode(), expected.encode())


def _local_host(header: str) -> bool:
    """Whether a Host header names this machine (any port)."""
    host = header.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return is_loopback(host) or host in ("", "testserver")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    """ASGI middleware: authentication first, then the CSRF header on state changes."""

    def __init__(self, app: ASGIApp, auth: Auth, local_only: bool = True) -> None:
        self.app = app
        self.auth = auth
        self.local_only = local_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "POST" and scope["path"].startswith(_SELF_AUTHENTICATED):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        bearer = scheme.lower() == "bearer" and self.auth.bearer_ok(credentials.strip())
        basic = scheme.lower() == "basic" and self.auth.basic_ok(credentials.strip())
        if self.auth.enabled and not (bearer or basic):
            await _refuse(send, 401, "authentication required", basic=self.auth.basic)
            return
        if self.local_only and not self.auth.enabled and not _local_host(headers.get("host", "")):
            # Without authentication only this machine's names may reach the API: a page
            # whose DNS name rebinds to 127.0.0.1 must not drive it from a browser.
            await _refuse(send, 403, "without authentication, use http://127.0.0.1", basic=None)
            return
        if scope["method"] in _UNSAFE and not bearer and headers.get(CSRF_HEADER) != "1":
            await _refuse(
                send, 403, "state-changing requests need the header X-Plait-Request: 1", basic=None
            )
            return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, message: str, *, basic: object) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401 and basic is not None:
        headers.append((b"www-authenticate", b'Basic realm="plait"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
