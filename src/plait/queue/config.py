"""``$PLAIT_HOME/config.yaml``: declared queues and scheduler settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Config", "load_config"]


@dataclass(frozen=True, slots=True)
class Config:
    queues: dict[str, int] = field(default_factory=dict)  # name → maxConcurrency
    timezone: str | None = None


def load_config(path: Path) -> Config:
    """The config file, or the defaults when there is none; SpecError on a malformed file."""
    if not path.is_file():
        return Config()
    from plait.spec.config import parse_config

    queues, timezone = parse_config(path.read_text(encoding="utf-8"), str(path))
    return Config(queues=queues, timezone=timezone)
