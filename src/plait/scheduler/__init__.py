"""Cron schedules, dispatch of queued runs, recovery and retention: the ``plait scheduler``."""

from plait.scheduler.cron import fires_between, next_fires
from plait.scheduler.service import LEASE_NAME, Scheduler, Tick, scheduled_run_id

__all__ = ["LEASE_NAME", "Scheduler", "Tick", "fires_between", "next_fires", "scheduled_run_id"]
