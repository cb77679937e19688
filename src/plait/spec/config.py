"""``config.yaml`` of a plait home: declared queues, the scheduler's default timezone, and
limits on what steps and the server keep.

    queues:
      - name: heavy-jobs
        maxConcurrency: 2
    timezone: Europe/Paris
    logs:
      maxStepLogSize: 100MiB      # per step attempt and stream
    store:
      url: postgresql://plait@db.example.com/plait   # else the embedded SQLite store
    server:
      maxRequestSize: 1MiB        # request bodies
      maxParamSize: 256KiB        # one param value given to the API
    smtp:                         # the mail server of every workflow that names none
      host: smtp.example.com
      port: 587
    otel:                         # traces of every run (a workflow's own block wins)
      endpoint: http://127.0.0.1:4318

Queues may also be a map (``heavy-jobs: {maxConcurrency: 2}``) or, as the reference engine
writes it, ``queues: {enabled: true, config: [...]}``.
"""

from __future__ import annotations

from collections.abc import Callable

from plait.errors import Problem, SpecError
from plait.spec._yaml import Document, Path, parse_documents, show_path

__all__ = ["SIZES", "parse_config"]

_TOP_KEYS = ("queues", "timezone", "tz", "logs", "server", "smtp", "store", "otel")
_SMTP_KEYS = ("host", "port", "username", "password")
_QUEUE_KEYS = ("name", "maxConcurrency", "max_concurrency")
# (section, key) → the name of the setting (its default is in queue.config.Config)
SIZES = {
    ("logs", "maxStepLogSize"): "max_step_log_size",
    ("logs", "maxShippedLogSize"): "max_shipped_log_size",
    ("server", "maxRequestSize"): "max_request_size",
    ("server", "maxParamSize"): "max_param_size",
}


def parse_config(text: str, file: str) -> tuple[dict[str, int], str | None, dict[str, object]]:
    """Queues (name → maxConcurrency), timezone and the other settings given (by their
    name in ``queue.config.Config``); SpecError with every problem found."""
    documents, problems = parse_documents(text, file)
    queues: dict[str, int] = {}
    timezone: str | None = None
    sizes: dict[str, object] = {}
    if problems:
        raise SpecError(problems)
    if not documents or documents[0].value is None:
        return queues, timezone, sizes
    doc = documents[0]

    def problem(path: Path, message: str) -> None:
        line = doc.lines.get(path, doc.line)
        problems.append(Problem(file, line, show_path(path), message))

    value = doc.value
    if not isinstance(value, dict):
        raise SpecError([Problem(file, doc.line, "", "config must be a mapping")])
    for key in value:
        if key not in _TOP_KEYS:
            problem((key,), f"unknown key `{key}` (known: {', '.join(_TOP_KEYS)})")
    _read_sizes(value, problem, sizes)
    _read_smtp(value, problem, sizes)
    _read_store(value, problem, sizes)
    _read_otel(doc, file, problems, sizes)
    raw = value.get("queues")
    base: Path
    if isinstance(raw, dict) and "config" in raw:
        entries, base = raw.get("config"), ("queues", "config")
    else:
        entries, base = raw, ("queues",)
    if isinstance(entries, dict):
        entries = [{"name": name, **(spec or {})} for name, spec in entries.items()]
    if entries is not None and not isinstance(entries, list):
        problem(base, "must be a list of {name, maxConcurrency}")
        entries = []
    for index, entry in enumerate(entries or []):
        path = (*base, index)
        if not isinstance(entry, dict):
            problem(path, "must be a mapping {name, maxConcurrency}")
            continue
        for key in entry:
            if key not in _QUEUE_KEYS:
                problem((*path, key), f"unknown key `{key}` (known: name, maxConcurrency)")
        name = entry.get("name")
        limit = entry.get("maxConcurrency", entry.get("max_concurrency", 1))
        if not isinstance(name, str) or not name:
            problem((*path, "name"), "a queue needs a name")
            continue
        if isinstance(limit, str) and limit.isdigit():
            limit = int(limit)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            problem((*path, "maxConcurrency"), "must be a whole number >= 1")
            continue
        queues[name] = limit
    zone = value.get("timezone", value.get("tz"))
    if zone is not None:
        timezone = str(zone)
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(timezone)
        except (ValueError, KeyError, OSError):
            problem(("timezone",), f"unknown timezone `{timezone}`")
    if problems:
        raise SpecError(problems)
    return queues, timezone, sizes


def _read_otel(
    doc: Document, file: str, problems: list[Problem], settings: dict[str, object]
) -> None:
    """``otel:``: where traces go, the same block as a workflow's (``spec.fields.OTEL``)."""
    assert isinstance(doc.value, dict)
    block = doc.value.get("otel")
    if block is None:
        return
    from plait.spec._kinds import INVALID, Ctx, Struct
    from plait.spec.fields import OTEL, make_otel

    read = Struct(OTEL, make_otel).read(Ctx(file, doc.lines, doc.raw, problems), ("otel",), block)
    if read is not INVALID:
        settings["otel"] = read


def _read_store(
    value: dict[str, object], problem: Callable[[Path, str], None], settings: dict[str, object]
) -> None:
    store = value.get("store")
    if store is None:
        return
    if not isinstance(store, dict):
        problem(("store",), "must be a mapping {url}")
        return
    for key in store:
        if key != "url":
            problem(("store", key), f"unknown key `{key}` (known: url)")
    url = store.get("url")
    if url is not None:
        if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
            problem(("store", "url"), "must be a postgresql:// URL")
        else:
            settings["store_url"] = url


def _read_smtp(
    value: dict[str, object], problem: Callable[[Path, str], None], settings: dict[str, object]
) -> None:
    smtp = value.get("smtp")
    if smtp is None:
        return
    if not isinstance(smtp, dict):
        problem(("smtp",), "must be a mapping {host, port, username, password}")
        return
    for key, item in smtp.items():
        if key not in _SMTP_KEYS:
            problem(("smtp", key), f"unknown key `{key}` (known: {', '.join(_SMTP_KEYS)})")
        elif isinstance(item, dict | list):
            problem(("smtp", key), "must be a string")
    settings["smtp"] = {k: str(v) for k, v in smtp.items() if v is not None}


def _read_sizes(
    value: dict[str, object], problem: Callable[[Path, str], None], sizes: dict[str, object]
) -> None:
    from plait.spec._kinds import parse_size

    for section in ("logs", "server"):
        entries = value.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            problem((section,), "must be a mapping")
            continue
        known = [key for (where, key) in SIZES if where == section]
        for key, raw in entries.items():
            if key not in known:
                problem((section, key), f"unknown key `{key}` (known: {', '.join(known)})")
                continue
            size = parse_size(raw)
            if size is None or size < 1:
                problem((section, key), f"`{raw}` is not a size (bytes, or like 512KiB, 1MiB)")
                continue
            sizes[SIZES[(section, key)]] = size
