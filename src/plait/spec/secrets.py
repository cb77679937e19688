"""``secrets:``: environment variables of every step whose values come from a provider at
run start (the reference's form), never from the file, and are never stored.

    secrets:
      - name: API_TOKEN       # the variable steps see
        provider: env         # env: from plait's environment; file: a file's content
        key: PROD_API_TOKEN   # the variable (env) or the path (file) to read
"""

from __future__ import annotations

from plait.model import Secret
from plait.spec._kinds import (
    INVALID,
    Choice,
    Ctx,
    Entries,
    Field,
    Kind,
    Schema,
    Struct,
    Table,
    Text,
    TextMap,
    VarName,
)
from plait.spec._yaml import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["PROVIDERS", "SecretsKind"]

PROVIDERS = ("env", "file")

SECRET = Table(
    "secret",
    (
        Field("name", VarName(), "The environment variable the steps see.", required=True),
        Field(
            "provider", Choice(PROVIDERS), "Where the value is read: env or file.", required=True
        ),
        Field("key", Text(), "The variable (env) or the file path (file) to read.", required=True),
        Field("options", TextMap(), "Provider settings (none are needed by env and file)."),
    ),
)


def _make_secret(ctx: Ctx, entries: Entries) -> Any:
    if not all(field in entries for field in ("name", "provider", "key")):
        return INVALID  # reported by the table
    if not entries.get("key").strip():
        return ctx.error(entries.at("key"), "a secret needs a key")
    return Secret(
        name=entries.get("name"),
        provider=entries.get("provider"),
        key=entries.get("key"),
        options=entries.get("options"),
        line=ctx.line(entries.path),
    )


_ENTRY = Struct(SECRET, _make_secret)


class SecretsKind(Kind):
    """``secrets``: a list of ``{name, provider, key}``; each name once."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if not isinstance(value, list):
            return ctx.error(path, "secrets must be a list of {name, provider, key}")
        secrets = [_ENTRY.read(ctx, (*path, i), item) for i, item in enumerate(value)]
        seen: dict[str, int | None] = {}
        for i, secret in enumerate(secrets):
            if secret is INVALID:
                continue
            if secret.name in seen:
                message = f"duplicate secret `{secret.name}` (first at line {seen[secret.name]})"
                ctx.error((*path, i, "name"), message)
            seen.setdefault(secret.name, secret.line)
        return INVALID if INVALID in secrets else tuple(secrets)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "array", "items": _ENTRY.schema(defs)}
