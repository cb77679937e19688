"""Executors: what runs a step other than its shell, and the settings each one takes.

A step names its executor as ``executor: TYPE``, ``executor: {type, config}`` or, the
reference's other spelling, ``type: TYPE`` with ``config: {...}``. Each executor's settings are
read with a table of their own, so a wrong key or value is reported with its file and line
when the file is loaded. Values stay as written: run-time references in them are expanded when
the step runs, as text of their field.
"""

from __future__ import annotations

from functools import cache

from plait.model import Executor
from plait.spec._kinds import (
    INVALID,
    Choice,
    Ctx,
    Field,
    Flag,
    Integer,
    Kind,
    Schema,
    Table,
    Text,
    TextMap,
    Words,
)
from plait.spec._yaml import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "COMMAND_TYPES",
    "KNOWN_TYPES",
    "REFUSED_TYPES",
    "ExecutorKind",
    "Mapping_",
    "Settings",
    "configs",
    "read_config",
]

# The step's own shell, by name.
COMMAND_TYPES = frozenset({"", "shell", "command"})
# Executors of the reference that need what no plait machine offers: refused at run start.
REFUSED_TYPES = {
    "chat": "an LLM provider, which plait does not call",
    "github_action": "a Docker engine to run GitHub Actions in (plait runs none)",
    "github-action": "a Docker engine to run GitHub Actions in (plait runs none)",
    "gha": "a Docker engine to run GitHub Actions in (plait runs none)",
}


class Port(Kind):
    """A TCP port: a number or a numeric string."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        port = Integer(1).read(ctx, path, value)
        if port is not INVALID and port > 65535:
            return ctx.error(path, f"must be a port number (1-65535), not {port}")
        return port

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": ["integer", "string"]}


class Mapping_(Kind):
    """Any mapping (Docker's container, host, network and exec settings)."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if not isinstance(value, dict):
            return ctx.error(path, "must be a mapping")
        return value

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"type": "object"}


class PullPolicy(Kind):
    """``always``, ``missing`` (the default) or ``never``; true means always, false never."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, bool):
            return "always" if value else "never"
        return Choice(("always", "missing", "never")).read(ctx, path, value)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {"anyOf": [{"type": "boolean"}, {"enum": ["always", "missing", "never"]}]}


# The executors of plait, by type; their tables are built when a step first names one (a
# workflow of shell steps never pays for them).
TYPES = frozenset(
    {
        "jq",
        "http",
        "mail",
        "ssh",
        "docker",
        "container",
        "archive",
        "hitl",
        "dag",
        "subworkflow",
        "parallel",
    }
)


@cache
def configs() -> dict[str, Table]:
    """The settings table of each executor type."""
    tables: dict[str, Table] = {
        "jq": Table("jq config", (Field("raw", Flag(), "Print strings without quotes."),)),
        "http": Table(
            "http config",
            (
                Field("timeout", Integer(0), "Seconds before the request gives up (0: none)."),
                Field("headers", TextMap(), "Request headers."),
                Field("query", TextMap(), "Query parameters."),
                Field("body", Text(), "The request body."),
                Field("silent", Flag(), "Print only the body of a successful response."),
                Field("debug", Flag(), "Print the request and response to stderr."),
                Field("json", Flag(), "Print the response as JSON {status_code, headers, body}."),
                Field("skipTLSVerify", Flag(), "Do not check the server's certificate."),
            ),
        ),
        "mail": Table(
            "mail config",
            (
                Field("from", Text(), "The sender's address."),
                Field(
                    "to", Words(comma=True), "The recipients: an address or a list.", required=True
                ),
                Field("subject", Text(), "The subject."),
                Field("message", Text(), "The text of the mail."),
                Field("attachments", Words(), "Files to attach."),
            ),
        ),
        "ssh": Table(
            "ssh config",
            (
                Field("user", Text(), "The remote user."),
                Field("host", Text(), "The remote host.", ("ip",)),
                Field("port", Port(), "The SSH port (22)."),
                Field("key", Text(), "A private key file."),
                Field("password", Text(), "A password (prefer a key)."),
                Field("strictHostKey", Flag(), "Check the host key against known hosts (true)."),
                Field("knownHostFile", Text(), "The known hosts file (~/.ssh/known_hosts)."),
                Field("shell", Text(), "The remote shell that runs the command (`bash -e`)."),
                Field("shellArgs", Words(), "More arguments of the remote shell."),
                Field("timeout", Integer(0), "Seconds to connect (30)."),
            ),
        ),
        "docker": Table(
            "docker config",
            (
                Field("image", Text(), "The image of a new container."),
                Field(
                    "containerName",
                    Text(),
                    "A running container to exec into (or the name of the new one).",
                ),
                Field("pull", PullPolicy(), "always, missing (default) or never."),
                Field("platform", Text(), "The image's platform (linux/amd64)."),
                Field("autoRemove", Flag(), "Remove the container when the step ends."),
                Field("keepContainer", Flag(), "Keep the container after the step."),
                Field("workingDir", Text(), "The working directory in the container."),
                Field("volumes", Words(), "Bind mounts `HOST:CONTAINER[:ro]`."),
                Field("env", Words(), "Environment `NAME=value` of the container."),
                Field("container", Mapping_(), "Docker's container settings."),
                Field("host", Mapping_(), "Docker's host settings."),
                Field("network", Mapping_(), "Docker's network settings."),
                Field("exec", Mapping_(), "Settings of an exec into `containerName`."),
            ),
        ),
        "archive": Table(
            "archive config",
            (
                Field("source", Text(), "What to archive, or the archive to read.", required=True),
                Field("destination", Text(), "The archive to write, or where to extract."),
                Field("format", Choice(("tar", "tar.gz", "tgz", "zip")), "Archive format."),
                Field("compressionLevel", Integer(-1), "Compression level (-1: default)."),
                Field("overwrite", Flag(), "Replace files that exist."),
                Field("preservePaths", Flag(), "Keep folders in the archive (true)."),
                Field("stripComponents", Integer(0), "Leading folders to drop on extract."),
                Field("include", Words(), "Glob patterns of files to take."),
                Field("exclude", Words(), "Glob patterns of files to leave out."),
                Field("dryRun", Flag(), "Say what would be done, do nothing."),
                Field("verbose", Flag(), "List each file."),
                Field("followSymlinks", Flag(), "Archive what links point to."),
                Field("verifyIntegrity", Flag(), "Check the archive after writing it."),
                Field("continueOnError", Flag(), "Go on past a file that fails."),
                Field("password", Text(), "Not supported (encrypted archives)."),
            ),
        ),
        "hitl": Table(
            "hitl config",
            (
                Field("prompt", Text(), "What the person is asked."),
                Field("input", Words(), "Names of the values the person gives."),
                Field("required", Words(), "Inputs that must be given."),
            ),
        ),
    }
    tables["container"] = tables["docker"]
    for alias in ("dag", "subworkflow", "parallel"):
        tables[alias] = Table(f"{alias} config", ())
    return tables


def read_config(ctx: Ctx, path: Path, kind: str, value: object) -> Any:
    """An executor's settings, checked by its table; ``INVALID`` after reporting."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return ctx.error(path, f"the settings of executor `{kind}` must be a mapping")
    table = configs().get(kind)
    if table is None:
        return dict(value)  # a refused or unknown type: reported elsewhere
    before = len(ctx.problems)
    entries = table.read(ctx, path, value)
    if len(ctx.problems) > before:
        return INVALID
    if kind == "hitl":
        missing = [r for r in entries.get("required", ()) if r not in entries.get("input", ())]
        if missing:
            return ctx.error((*path, "required"), f"`{missing[0]}` is not in `input`")
    if kind in ("docker", "container") and not (
        entries.get("image") or entries.get("container_name")
    ):
        return ctx.error(path, "docker needs `image` (a new container) or `containerName`")
    return dict(value)


class Settings(Kind):
    """Settings checked by a table and kept as written (``ssh:`` of a workflow)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        return read_config(ctx, path, self.kind, value)

    def schema(self, defs: dict[str, Schema]) -> Schema:
        from plait.spec.schema import table_schema

        return table_schema(configs()[self.kind], defs)


class ExecutorKind(Kind):
    """``executor``: a type name, or ``{type, config}``."""

    def read(self, ctx: Ctx, path: Path, value: object) -> Any:
        if isinstance(value, str):
            return Executor(value.strip(), {}, ctx.line(path))
        if not isinstance(value, dict):
            return ctx.error(path, "executor must be a type name or {type, config}")
        unknown = [k for k in value if k not in ("type", "config")]
        if unknown:
            return ctx.error(
                (*path, unknown[0]), f"unknown field `{unknown[0]}` (known: type, config)"
            )
        kind = value.get("type")
        if not isinstance(kind, str) or not kind.strip():
            return ctx.error((*path, "type"), "executor needs a `type`")
        config = value.get("config") or {}
        if not isinstance(config, dict):
            return ctx.error((*path, "config"), "must be a mapping")
        return Executor(kind.strip(), config, ctx.line(path))

    def schema(self, defs: dict[str, Schema]) -> Schema:
        return {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {"type": {"type": "string"}, "config": {}}},
            ]
        }


KNOWN_TYPES = TYPES | COMMAND_TYPES | frozenset(REFUSED_TYPES)
