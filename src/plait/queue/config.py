"""``$PLAIT_HOME/config.yaml``: declared queues and scheduler settings."""

from __future__ import annotations

from pathlib import Path

__all__ = ["Config", "load_config"]


class Config:
    __slots__ = ("queues", "timezone")

    def __init__(
        self,
        queues: dict[str, int] | None = None,
        timezone: str | None = None,
    ) -> None:
        self.queues = dict() if queues is None else queues  # name → maxConcurrency
        self.timezone = timezone


def load_config(path: Path) -> Config:
    """The config file, or the defaults when there is none; SpecError on a malformed file."""
    if not path.is_file():
        return Config()
    from plait.spec.config import parse_config

    queues, timezone = parse_config(path.read_text(encoding="utf-8"), str(path))
    return Config(queues=queues, timezone=timezone)
