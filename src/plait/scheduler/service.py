"""The scheduler: starts runs on their cron schedules, dispatches queued runs, recovers runs
whose agent died and deletes old history. One scheduler is active per home (a lease in the
store); others wait as standby and take over when the active one stops renewing it.

``tick`` does one round of work at the time the clock says; tests drive it with a fake clock.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from plait.errors import PlaitError
from plait.model import Workflow, iso_time
from plait.proc.launch import launch_agent
from plait.queue import Config, dispatch, enqueue_run, load_config
from plait.runtime.recovery import agent_alive, liveness, recover
from plait.scheduler.cron import Overflow, fires_between, first_fires, next_fires
from plait.scheduler.registry import Registry
from plait.spec._kinds import parse_duration
from plait.store import Home

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunStore

__all__ = ["LEASE_NAME", "Scheduler", "Tick", "scheduled_run_id"]

LEASE_NAME = "scheduler"
LEASE_TTL_SECONDS = 6.0
TICK_SECONDS = 0.25  # queued runs start within a quarter second of a slot freeing
# How often every file of the DAGs folder is looked at for changes (5,000 files: 30 ms); a file
# added, removed or renamed in the folder itself (as editors and git write) is seen at the next
# tick, by the folder's own modification time.
REFRESH_SECONDS = 3.0
GRACE_SECONDS = 15.0  # fire times missed by a restart this short are still run
# Fire times of one look at a schedule acted on one by one (run, or skipped and recorded with
# the reason), earliest first; the times past them are recorded as one skip that counts them.
CATCHUP_LIMIT = 1000
RETENTION_EVERY_SECONDS = 60.0
DEFAULT_RETENTION_DAYS = 30

_log = logging.getLogger("plait.scheduler")
_UTC = UTC


def scheduled_run_id(workflow: str, moment: datetime) -> str:
    """The run id of a scheduled time: the same time can never be run twice."""
    return f"{workflow}.{moment.astimezone(_UTC):%Y%m%dT%H%M%SZ}"


@dataclass(slots=True)
class Tick:
    """What one round did."""

    active: bool
    enqueued: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    launched: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        home: Home,
        store: RunStore,
        *,
        clock: Callable[[], float] | None = None,
        launch: Callable[[str], object] | None = None,
        owner: str | None = None,
    ) -> None:
        from plait.spec import cron

        cron.FULL_CHECK = True  # a line croniter cannot read is reported, not skipped
        self.home = home
        self.store = store
        self.clock = clock or store.now  # the store's time: hosts with other clocks agree
        self.launch = launch or self._launch
        self.owner = owner or f"{os.uname().nodename}:{os.getpid()}"
        self.registry = Registry(home.dags_dir)
        self._refreshed = -REFRESH_SECONDS
        self._folder: int | None = None  # the DAGs folder's modification time then
        # each scheduled workflow's next fire time (of any of its lines) after its mark: it
        # is looked at again only then, or when its file changed
        self._next: dict[str, tuple[Workflow, float]] = {}
        self._earliest = float("-inf")  # the first of those times
        self.config = Config()
        self._config_stamp: tuple[int, int] | None = None
        self._last_retention = 0.0
        self.active = False

    # ------------------------------------------------------------------ loop

    def run(self, stopping: threading.Event, tick_seconds: float = TICK_SECONDS) -> None:
        """Tick until ``stopping`` is set; then hand the lease back at once."""
        try:
            while not stopping.is_set():
                try:
                    self.tick()
                except PlaitError as error:
                    _log.warning("scheduler tick failed: %s", error.message)
                except Exception as error:  # a busy or full disk: log it, try again next tick
                    _log.warning("scheduler tick failed: %s: %s", type(error).__name__, error)
                stopping.wait(tick_seconds)
        finally:
            if self.active:
                self.store.release_lease(LEASE_NAME, self.owner)

    def tick(self, now: float | None = None) -> Tick:
        moment = self.clock() if now is None else now
        epoch = self.store.acquire_lease(LEASE_NAME, self.owner, LEASE_TTL_SECONDS, moment)
        if epoch is None:
            epoch = self._take_over_from_the_dead(moment)
        if epoch is None:
            if self.active:
                _log.warning("scheduler lease lost; standing by")
            self.active = False
            return Tick(active=False)
        if not self.active:
            _log.info("scheduler active (lease epoch %s)", epoch)
        self.active = True
        report = Tick(active=True)
        self._reload_config()
        report.recovered = recover(self.store)
        self.store.drop_abandoned_waits(liveness(self.store))
        changed = False
        folder = self._folder_stamp()
        if now is not None or moment - self._refreshed >= REFRESH_SECONDS or folder != self._folder:
            self._refreshed, self._folder = moment, folder
            for change in self.registry.refresh():
                _log.info("workflow %s", change)
                changed = True
        if changed or moment >= self._earliest:
            workflows = self.registry.workflows()
            for workflow in workflows:
                if self._due(workflow, moment):
                    self._schedule(workflow, moment, report)
            if changed:
                names = {w.name for w in workflows}
                self._next = {k: v for k, v in self._next.items() if k in names}
            self._earliest = min((due for _, due in self._next.values()), default=float("inf"))
        report.launched = dispatch(self.store, self.config, self.launch)
        if moment - self._last_retention >= RETENTION_EVERY_SECONDS:
            self._last_retention = moment
            report.deleted = self._apply_retention(moment)
        return report

    def _folder_stamp(self) -> int | None:
        try:
            return os.stat(self.home.dags_dir).st_mtime_ns
        except OSError:
            return None

    def _take_over_from_the_dead(self, now: float) -> int | None:
        """The lease's owner is a scheduler on this host whose process is gone: no need to
        wait for the lease to expire."""
        lease = self.store.lease(LEASE_NAME)
        if lease is None:
            return None
        host, _, pid = lease[0].rpartition(":")
        if host != os.uname().nodename or not pid.isdigit() or agent_alive(int(pid), host, None):
            return None
        return self.store.steal_lease(LEASE_NAME, lease[0], self.owner, LEASE_TTL_SECONDS, now)

    # ------------------------------------------------------------------ schedules

    def _due(self, workflow: Workflow, now: float) -> bool:
        """Whether a workflow's schedule needs a look now: one of its lines fires, or it is
        new or changed (the same object as last time, from an unchanged file, is not)."""
        if workflow.schedule.empty:
            return False
        known = self._next.get(workflow.name)
        return known is None or known[0] is not workflow or now >= known[1]

    def _next_fire(self, workflow: Workflow, now: float) -> float:
        """The first time after ``now`` that any of the workflow's lines fires."""
        after = datetime.fromtimestamp(now, _UTC)
        schedule, zone = workflow.schedule, self.config.timezone
        lines = (*schedule.start, *schedule.stop, *schedule.restart)
        times = [next_fires(line, after, 1, zone)[0].timestamp() for line in lines]
        return min(times, default=float("inf"))

    def _schedule(self, workflow: Workflow, now: float, report: Tick) -> None:
        schedule = workflow.schedule
        if schedule.empty:
            return
        try:
            self._next[workflow.name] = (workflow, self._next_fire(workflow, now))
        except Exception as error:  # a line the cron library cannot read, or never fires
            _log.warning("workflow %s: its schedule never fires: %s", workflow.name, error)
            self._next[workflow.name] = (workflow, float("inf"))
            return
        mark = self.store.schedule_mark(workflow.name)
        if mark is None:
            mark = now  # first sight: no catch-up of times before the workflow was known
            self.store.set_schedule_mark(workflow.name, now)
        window = parse_duration(workflow.catchup_window) if workflow.catchup_window else None
        lower = max(mark, now - (window if window else GRACE_SECONDS))
        start = datetime.fromtimestamp(lower, _UTC)
        end = datetime.fromtimestamp(now, _UTC)
        zone = self.config.timezone
        if lower > mark:  # times before the window went by while no scheduler ran: say so
            since = datetime.fromtimestamp(mark, _UTC)
            missed, over = self._fires(schedule.start, since, start)
            why = (
                f"missed: no scheduler was running, and it is older than catchupWindow "
                f"{workflow.catchup_window}"
                if window
                else "missed: no scheduler was running (set catchupWindow to run missed times)"
            )
            for moment in missed:
                self._skip(workflow, moment, why, report)
            self._skip_overflow(workflow, over, why, report)
        fires, over = self._fires(schedule.start, start, end)
        if self.store.is_paused("schedule", workflow.name):
            for moment in fires:
                self._skip(workflow, moment, "the schedule is paused", report)
            self._skip_overflow(workflow, over, "the schedule is paused", report)
            if fires or lower > mark:
                self.store.set_schedule_mark(workflow.name, now)
            return
        fired = False
        for line in schedule.stop:
            if fires_between(line, start, end, zone, limit=1):
                fired = True
                report.stopped.extend(self._stop_all(workflow.name))
        for line in schedule.restart:
            if restarts := fires_between(line, start, end, zone, limit=1):
                fired = True
                report.stopped.extend(self._stop_all(workflow.name))
                self._fire(workflow, restarts[-1], report, "all")
        for moment in fires:
            self._fire(workflow, moment, report, workflow.overlap_policy or "skip")
        self._skip_overflow(
            workflow,
            over,
            f"catchupWindow {workflow.catchup_window} holds more than {CATCHUP_LIMIT:,} fire "
            f"times: the first {CATCHUP_LIMIT:,} were acted on",
            report,
        )
        if fires or fired:
            # the mark is written when a time was acted on: with no time in (mark, now], an
            # older mark means the same, and 5,000 idle workflows write nothing
            self.store.set_schedule_mark(workflow.name, now)

    def _fires(
        self, lines: tuple[str, ...], start: datetime, end: datetime
    ) -> tuple[list[datetime], Overflow | None]:
        """The fire times of ``lines`` in ``(start, end]``, at most ``CATCHUP_LIMIT`` of them
        (the earliest), and what the window holds past them."""
        fires: set[datetime] = set()
        over: Overflow | None = None
        for line in lines:
            some, more = first_fires(line, start, end, self.config.timezone, CATCHUP_LIMIT)
            fires.update(some)
            if more is not None:
                over = more.joined(over)
        ordered = sorted(fires)
        if len(ordered) > CATCHUP_LIMIT:  # (several lines)
            past = ordered[CATCHUP_LIMIT:]
            over = Overflow(past[0], past[-1], len(past), False).joined(over)
            ordered = ordered[:CATCHUP_LIMIT]
        return ordered, over

    def _skip_overflow(
        self, workflow: Workflow, over: Overflow | None, reason: str, report: Tick
    ) -> None:
        """The fire times past the ones acted on, as one skip at the first of them."""
        if over is None:
            return
        count = f"{'at least ' if over.at_least else ''}{over.count:,}"
        self._skip(
            workflow,
            over.first,
            f"{reason}; this and the later times up to {iso_time(over.last.timestamp())} "
            f"({count} in all) were not run",
            report,
        )

    def _fire(self, workflow: Workflow, moment: datetime, report: Tick, policy: str) -> None:
        run_id = scheduled_run_id(workflow.name, moment)
        if self.store.run_exists(run_id):
            return
        if workflow.skip_if_successful and self._succeeded_since_previous(workflow, moment):
            self._skip(
                workflow, moment, "skipIfSuccessful: a run succeeded since the last time", report
            )
            return
        if policy == "skip" and self.store.active_count(workflow.name):
            self._skip(workflow, moment, "overlapPolicy skip: a run of it was still active", report)
            return
        if policy == "latest":
            for waiting in self.store.queued_scheduled(workflow.name):
                self.store.dequeue(waiting, f"replaced by the later scheduled run {run_id}")
        try:
            enqueue_run(
                self.store, workflow, params=(), run_id=run_id, dags_dir=str(self.home.dags_dir)
            )
        except PlaitError as error:  # (params that do not fit, the store refusing the run)
            self._skip(workflow, moment, f"cannot enqueue: {error.message}", report)
            return
        report.enqueued.append(run_id)

    def _skip(self, workflow: Workflow, moment: datetime, reason: str, report: Tick) -> None:
        """A fire time not run: logged, kept with its reason (``plait schedule list``)."""
        run_id = scheduled_run_id(workflow.name, moment)
        report.skipped.append(run_id)
        _log.info(
            "workflow %s: %s not run: %s", workflow.name, iso_time(moment.timestamp()), reason
        )
        try:
            self.store.record_skip(workflow.name, moment.timestamp(), reason)
        except PlaitError as error:
            _log.warning("cannot record the skipped time of %s: %s", run_id, error.message)

    def _succeeded_since_previous(self, workflow: Workflow, moment: datetime) -> bool:
        """Whether a run succeeded since the schedule's previous time (``skipIfSuccessful``)."""
        previous = None
        zone = self.config.timezone
        for line in workflow.schedule.start:
            earlier = fires_between(
                line,
                datetime.fromtimestamp(moment.timestamp() - 86400 * 366, _UTC),
                moment,
                zone,
                limit=2,
            )
            before = [f for f in earlier if f < moment]
            if before and (previous is None or before[-1] > previous):
                previous = before[-1]
        since = previous.timestamp() if previous is not None else 0.0
        return self.store.succeeded_since(workflow.name, since)

    def _stop_all(self, name: str) -> list[str]:
        from plait.model import ACTIVE_RUN_STATUSES

        stopped = []
        for run in self.store.list_runs(name, statuses=ACTIVE_RUN_STATUSES, roots_only=True):
            self.store.stop(run.run_id, "stopped by its schedule")
            stopped.append(run.run_id)
        return stopped

    # ------------------------------------------------------------------ upkeep

    def _reload_config(self) -> None:
        path = self.home.config_file
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if stamp != self._config_stamp:
            self._config_stamp = stamp
            try:
                self.config = load_config(path)
                self._next.clear()  # the default timezone may have changed
                self._earliest = float("-inf")
            except PlaitError as error:
                _log.warning("config.yaml not reloaded: %s", error.message)

    def _apply_retention(self, now: float) -> list[str]:
        deleted: list[str] = []
        for workflow in self.registry.workflows():
            days = workflow.hist_retention_days
            if days is None:
                days = DEFAULT_RETENTION_DAYS
            keep = (
                workflow.hist_retention_runs if workflow.hist_retention_runs is not None else 10**9
            )
            for run_id in self.store.expired_runs(workflow.name, now - days * 86400, keep):
                for log_dir in set(self.store.delete_run_tree(run_id)):
                    # only the run's own folder: a stored path is never trusted further
                    if os.path.basename(os.path.normpath(log_dir)) == run_id and ".." not in run_id:
                        shutil.rmtree(log_dir, ignore_errors=True)
                deleted.append(run_id)
        return deleted

    def _launch(self, run_id: str) -> int:
        log = self.home.logs_dir / "agents.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        return launch_agent(run_id, log_path=str(log))
