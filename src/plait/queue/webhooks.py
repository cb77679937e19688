"""Webhooks: other systems start a workflow's runs, each workflow with its own credentials.

A workflow's token (``plait webhook create NAME``) is shown once and kept only as its SHA-256;
a caller sends it as ``Authorization: Bearer TOKEN``. A caller that signs instead (GitHub,
GitLab, most SaaS) sends ``X-Hub-Signature-256: sha256=HMAC`` of the body, checked with the
secret in the server's environment (``PLAIT_WEBHOOK_SECRET_<NAME>``, else
``PLAIT_WEBHOOK_SECRET``): a signing secret must be known to check it, so it is kept where the
server's other secrets are, never in the store.

The body (JSON) becomes the run's param ``WEBHOOK_PAYLOAD``, and each param the workflow maps
(``webhook: {params: {BRANCH: ref}}``) is read from its path in the payload. A delivery with an
``Idempotency-Key`` (or ``X-GitHub-Delivery``) header starts one run however often it comes:
its run id is made from the workflow and the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping

from plait.model import Param, Workflow

__all__ = [
    "PAYLOAD_PARAM",
    "RateLimit",
    "delivery_run_id",
    "new_token",
    "payload_params",
    "signature_ok",
    "signing_secret",
    "token_hash",
    "token_ok",
]

PAYLOAD_PARAM = "WEBHOOK_PAYLOAD"
TOKEN_PREFIX = "plait_wh_"
MAX_KEY_LENGTH = 200
_NAMESPACE = uuid.UUID("0b4f3c1e-8d2a-4f6b-9e7c-5a1d2c3b4e5f")


def new_token() -> str:
    """A new webhook token: 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def token_ok(stored_hash: str, token: str) -> bool:
    return hmac.compare_digest(stored_hash, token_hash(token))


def signing_secret(workflow: str, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The HMAC secret of ``workflow``'s webhook from the environment, or None."""
    env = os.environ if environ is None else environ
    own = "PLAIT_WEBHOOK_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", workflow).upper()
    value = env.get(own) or env.get("PLAIT_WEBHOOK_SECRET")
    return value.encode() if value else None


def signature_ok(secret: bytes, body: bytes, header: str) -> bool:
    """Whether ``header`` (``sha256=HEX``) is the HMAC-SHA256 of ``body`` with ``secret``."""
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or not given:
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def delivery_run_id(workflow: str, key: str) -> str:
    """The run id of a delivery with an idempotency key: the same for every redelivery."""
    return "wh-" + str(uuid.uuid5(_NAMESPACE, f"{workflow}\0{key}"))


def payload_params(workflow: Workflow, text: str, payload: object) -> tuple[Param, ...]:
    """The params a webhook call gives a run: the payload itself, then each param the
    workflow maps from a path in it (``repository.full_name``, ``commits.0.id``); a path the
    payload does not have leaves the param at its default."""
    params = [Param(PAYLOAD_PARAM, text)]
    mapped = workflow.webhook.get("params") or {}
    assert isinstance(mapped, dict)
    for name, path in mapped.items():
        found, value = _at(payload, str(path))
        if found:
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            params.append(Param(str(name), shown))
    return tuple(params)


def _at(value: object, path: str) -> tuple[bool, object]:
    current = value
    for part in path.removeprefix("$.").split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


class RateLimit:
    """At most ``per_minute`` events a key in any minute (a sliding window), for at most
    ``max_keys`` keys at once (the oldest forgotten first)."""

    def __init__(self, per_minute: int, max_keys: int = 10_000) -> None:
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Count one event of ``key``: 0 when allowed, else the seconds until it would be."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            events = self._events.pop(key, None) or deque()
            self._events[key] = events  # (the newest key last)
            while events and events[0] <= moment - 60:
                events.popleft()
            if len(events) >= self.per_minute:
                return max(0.001, events[0] + 60 - moment)
            events.append(moment)
            while len(self._events) > self.max_keys:
                del self._events[next(iter(self._events))]
            return 0.0
