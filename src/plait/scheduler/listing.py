"""What ``plait schedule list`` shows: each scheduled workflow and its next run times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plait.model import iso_time
from plait.queue import Config
from plait.scheduler.cron import next_fires
from plait.scheduler.registry import Registry
from plait.store import Home

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunStore

__all__ = ["schedule_listing"]


def schedule_listing(
    home: Home, config: Config, count: int = 3, store: RunStore | None = None
) -> list[dict[str, Any]]:
    """Each scheduled workflow: its lines, next fire times, whether its schedule is paused and
    (with ``store``) the latest fire times it did not run, with the reason."""
    paused = store.paused("schedule") if store is not None else {}
    skips = store.all_skips(5) if store is not None else {}
    registry = Registry(home.dags_dir)
    registry.refresh()
    now = datetime.now(UTC)
    listing: list[dict[str, Any]] = []
    known: dict[str, list[datetime]] = {}  # lines that many workflows share, computed once

    def fires(line: str) -> list[datetime]:
        if line not in known:
            known[line] = next_fires(line, now, count, config.timezone)
        return known[line]

    for entry in registry.entries.values():
        workflow = entry.workflow
        if workflow is None:
            listing.append(
                {
                    "name": None,
                    "file": str(entry.path),
                    "schedule": [],
                    "stop": [],
                    "restart": [],
                    "next": [],
                    "paused": False,
                    "skipped": [],
                    "error": entry.error,
                }
            )
            continue
        schedule = workflow.schedule
        if schedule.empty:
            continue
        upcoming = sorted({f for line in schedule.start for f in fires(line)})[:count]
        listing.append(
            {
                "name": workflow.name,
                "file": str(entry.path),
                "schedule": list(schedule.start),
                "stop": list(schedule.stop),
                "restart": list(schedule.restart),
                "next": [iso_time(f.timestamp()) for f in upcoming],
                "paused": workflow.name in paused,
                "skipped": [
                    {"fireAt": iso_time(at), "reason": why}
                    for at, why in skips.get(workflow.name, ())
                ],
                "error": None,
            }
        )
    return listing
