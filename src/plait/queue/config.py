"""``$PLAIT_HOME/config.yaml``: declared queues and scheduler settings."""

from __future__ import annotations

from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.model.telemetry import OtelSettings

__all__ = ["Config", "load_config"]


class Config:
    __slots__ = (
        "max_param_size",
        "max_request_size",
        "max_shipped_log_size",
        "max_step_log_size",
        "otel",
        "queues",
        "smtp",
        "store_url",
        "timezone",
    )

    def __init__(
        self,
        queues: dict[str, int] | None = None,
        timezone: str | None = None,
        max_step_log_size: int = 100 * 1024 * 1024,
        max_request_size: int = 1024 * 1024,
        max_param_size: int = 256 * 1024,
        smtp: dict[str, str] | None = None,
        store_url: str | None = None,
        max_shipped_log_size: int = 50 * 1024 * 1024,
        otel: OtelSettings | None = None,
    ) -> None:
        self.queues = dict() if queues is None else queues  # name → maxConcurrency
        self.timezone = timezone
        self.max_step_log_size = max_step_log_size  # bytes of each stream of a step attempt
        # bytes of each stream of a step attempt copied into a PostgreSQL store
        self.max_shipped_log_size = max_shipped_log_size
        self.max_request_size = max_request_size  # bytes of an API request body
        self.max_param_size = max_param_size  # bytes of one param value given to the API
        self.smtp = dict() if smtp is None else smtp  # the default SMTP server
        self.store_url = store_url  # a PostgreSQL store; None: SQLite in the home
        self.otel = otel  # where traces of runs go (`otel:`); None: not said here


def load_config(path: Path) -> Config:
    """The config file, or the defaults when there is none; SpecError on a malformed file."""
    if not path.is_file():
        return Config()
    from plait.spec.config import parse_config

    queues, timezone, sizes = parse_config(path.read_text(encoding="utf-8"), str(path))
    return Config(queues=queues, timezone=timezone, **sizes)  # type: ignore[arg-type]
