"""One function per ``plait`` command. Each returns the process exit code."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

from plait.app import (
    load_base,
    load_workflow,
    notices,
    open_store,
    resolve_name,
    start_run,
    worker_warnings,
)
from plait.cli.exit_codes import exit_code
from plait.cli.main import print_json
from plait.cli.render import MAX_CHILDREN_LISTED, Progress, history_table, run_tree
from plait.errors import NotFoundError, PlaitError, RunStateError, UsageError
from plait.model import ACTIVE_RUN_STATUSES, Param, RunRecord, RunStatus, StepRecord
from plait.store import Home

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from plait.store.base import RunStore

__all__ = [
    "cmd_agent",
    "cmd_dequeue",
    "cmd_dry",
    "cmd_enqueue",
    "cmd_history",
    "cmd_logs",
    "cmd_queue",
    "cmd_restart",
    "cmd_retry",
    "cmd_schedule",
    "cmd_scheduler",
    "cmd_schema",
    "cmd_server",
    "cmd_start",
    "cmd_start_all",
    "cmd_status",
    "cmd_stop",
    "cmd_validate",
    "cmd_version",
    "cmd_worker",
    "cmd_workers",
]


def _given_params(text: str | None, extra: list[str]) -> tuple[Param, ...]:
    from plait.spec import parse_params

    given: tuple[Param, ...] = ()
    if text:
        given += parse_params(text, file="--params")
    if extra:
        for token in extra:
            if "=" in token:
                name, value = token.split("=", 1)
                given += (Param(name, value),)
            else:
                given += (Param(None, token),)
    return given


def cmd_start(args: argparse.Namespace, extra: list[str]) -> int:
    home = Home.from_env()
    workflow = load_workflow(args.target, home, check_children=True)
    params = _given_params(args.params, extra)
    for notice in notices(workflow, home):
        print(f"plait: note: {notice}", file=sys.stderr)
    observer = Progress() if sys.stderr.isatty() and not args.quiet else None
    store = open_store(home)
    try:
        record = start_run(
            workflow,
            home=home,
            params=params,
            run_id=args.run_id,
            observer=observer,
            no_wait=args.no_wait,
            on_wait=_tell_waiting,
            store=store,
            priority=args.priority,
        )
        _print_tree(home, record, store)
    finally:
        store.close()
    return exit_code(record.status)


def _tell_waiting(reason: str) -> None:
    print(f"plait: waiting to start: {reason}", file=sys.stderr, flush=True)


def cmd_enqueue(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.app import enqueue_run

    home = Home.from_env()
    workflow = load_workflow(args.target, home)
    run_id = enqueue_run(
        workflow,
        home=home,
        params=_given_params(args.params, extra),
        run_id=args.run_id,
        queue=args.queue,
        priority=args.priority,
    )
    print(run_id)
    return 0


def cmd_dequeue(args: argparse.Namespace, extra: list[str]) -> int:
    home = Home.from_env()
    store = _store_or_none(home)
    try:
        run = store.get_run(args.run_id)
        if not store.dequeue(run.run_id):
            raise RunStateError(f"run {run.run_id} is {run.status}, not queued")
    finally:
        store.close()
    print(f"{run.name} run {run.run_id}: dequeued")
    return 0


def _pause(kind: str, name: str, verb: str) -> int:
    """``plait schedule|queue pause|resume NAME``."""
    home = Home.from_env()
    if kind == "schedule":  # a workflow that is not there is an error, as in the API (404)
        name = resolve_name(name, home, missing_ok=False)
    store = open_store(home)
    try:
        changed = store.set_paused(kind, name, verb == "pause")
    finally:
        store.close()
    what = f"the schedule of {name}" if kind == "schedule" else f"queue {name}"
    state = "paused" if verb == "pause" else "running"
    print(f"{what}: {state}" + ("" if changed else f" (it was {state} already)"))
    return 0


def cmd_queue(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.queue import load_config
    from plait.queue.listing import queue_listing

    if getattr(args, "queue_command", None) in ("pause", "resume"):
        return _pause("queue", args.name, args.queue_command)
    home = Home.from_env()
    config = load_config(home.config_file)
    try:
        store = _store_or_none(home)
    except NotFoundError:  # no store yet: no run runs or waits
        listing = []
    else:
        try:
            listing = queue_listing(store, config)
        finally:
            store.close()
    if getattr(args, "json", False):
        print_json(listing)
        return 0
    if not listing:
        print("no runs are running or waiting")
    for queue in listing:
        print(
            f"{queue['name']}  {queue['running']}/{queue['capacity']} running, "
            f"{len(queue['waiting'])} waiting" + ("  PAUSED" if queue["paused"] else "")
        )
        for run in queue["runs"]:
            where = "running" if run["status"] == "running" else f"#{run['position']}"
            priority = f"  priority {run['priority']}" if run.get("priority") else ""
            print(
                f"  {where:8s} {run['name']}  run {run['runId']}{priority}"
                + (f"  ({run['reason']})" if run.get("reason") else "")
            )
    return 0


def cmd_webhook(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.model import iso_time
    from plait.queue import webhooks

    home = Home.from_env()
    what = getattr(args, "webhook_command", None)
    if what is None:
        raise UsageError("plait webhook: say create NAME, list or revoke NAME")
    store = open_store(home)
    try:
        if what == "list":
            rows = [
                {
                    "workflow": h.workflow,
                    "createdAt": iso_time(h.created_at),
                    "lastUsedAt": iso_time(h.last_used_at),
                }
                for h in store.webhooks()
            ]
            if args.json:
                print_json(rows)
            elif not rows:
                print("no webhook tokens")
            for row in [] if args.json else rows:
                used = row["lastUsedAt"] or "never"
                print(f"{row['workflow']}  made {row['createdAt']}  last used {used}")
            return 0
        if what == "revoke":
            if not store.revoke_webhook(args.name):
                raise NotFoundError(f"{args.name} has no webhook token")
            print(f"{args.name}: webhook token revoked")
            return 0
        workflow = load_workflow(args.name, home)  # it must exist and load
        token = webhooks.new_token()
        store.set_webhook(workflow.name, webhooks.token_hash(token))
    finally:
        store.close()
    print(token)
    print(
        f"the token of {workflow.name}'s webhook, shown this once: POST it to "
        f"/api/v1/webhooks/{workflow.name} as 'Authorization: Bearer TOKEN'",
        file=sys.stderr,
    )
    return 0


def cmd_scheduler(args: argparse.Namespace, extra: list[str]) -> int:
    import logging
    import signal

    from plait.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    home = Home.from_env()
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stopping.set())
    parent = os.environ.get("PLAIT_EXIT_WITH_PARENT")
    if parent:  # started by `plait start-all`: end with it, however it ends
        threading.Thread(target=_watch_parent, args=(int(parent), stopping), daemon=True).start()
    from plait.queue import load_config

    load_config(home.config_file)  # a malformed config stops the scheduler before it starts
    store = open_store(home)
    try:
        print(f"plait scheduler: home {home.root}, workflows in {home.dags_dir}", flush=True)
        Scheduler(home, store).run(stopping)
    finally:
        store.close()
    return 0


def _watch_parent(parent: int, stopping: threading.Event) -> None:
    while not stopping.wait(1.0):
        if os.getppid() != parent:
            stopping.set()


def cmd_schedule(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.queue import load_config
    from plait.scheduler.listing import schedule_listing

    if getattr(args, "schedule_command", None) in ("pause", "resume"):
        return _pause("schedule", args.name, args.schedule_command)
    if getattr(args, "schedule_command", None) == "skipped":
        return _skipped(args.name, args.limit, args.json)
    home = Home.from_env()
    count = getattr(args, "count", 3)
    try:
        store: RunStore | None = open_store(home, existing=True)
    except NotFoundError:  # no run yet: nothing paused or skipped either
        store = None
    try:
        listing = schedule_listing(home, load_config(home.config_file), count, store)
    finally:
        if store is not None:
            store.close()
    if getattr(args, "json", False):
        print_json(listing)
        return 0
    if not listing:
        print(f"no scheduled workflows in {home.dags_dir}")
    for entry in listing:
        if entry["error"]:
            print(entry["error"])
            continue
        paused = "  PAUSED" if entry["paused"] else ""
        print(f"{entry['name']}  {' | '.join(entry['schedule'])}{paused}")
        for moment in entry["next"]:
            print(f"  next: {moment}" + (" (skipped: paused)" if paused else ""))
        for skip in entry["skipped"][:3]:
            print(f"  not run: {skip['fireAt']}: {skip['reason']}")
    return 0


SKIPS_SHOWN = 2000  # (the store keeps as many a workflow)


def _skipped(name: str, limit: int, as_json: bool) -> int:
    """``plait schedule skipped NAME``: its fire times not run, newest first, with why."""
    if not 1 <= limit <= SKIPS_SHOWN:
        raise UsageError(f"--limit: {limit} is not between 1 and {SKIPS_SHOWN}")
    from plait.model import iso_time

    home = Home.from_env()
    missing: NotFoundError | None = None
    try:
        name = resolve_name(name, home, missing_ok=False)
    except NotFoundError as error:  # (a workflow gone since may still have skips kept)
        missing = error
    try:
        store = open_store(home, existing=True)
    except NotFoundError:  # no run yet: nothing skipped either
        skips: list[tuple[float, str]] = []
    else:
        try:
            skips = store.skips(name, limit)
        finally:
            store.close()
    if missing is not None and not skips:
        raise missing
    listed = [{"fireAt": iso_time(at), "reason": why} for at, why in skips]
    if as_json:
        print_json(listed)
        return 0
    if not listed:
        print(f"{name}: every fire time of its schedule ran (none is recorded as skipped)")
    for skip in listed:
        print(f"{skip['fireAt']}  {skip['reason']}")
    return 0


def cmd_agent(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.app import run_claimed

    if args.serve:
        from plait.app import serve_runs
        from plait.errors import UsageError

        if not args.worker:
            raise UsageError("agent: --serve needs --worker")
        replies = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)  # whatever else is printed goes to the log, not into the replies
        serve_runs(Home.from_env(), args.worker, sys.stdin, replies)
        return 0
    if not args.run_id:
        from plait.errors import UsageError

        raise UsageError("agent: --run-id is required")
    record = run_claimed(args.run_id, home=Home.from_env(), epoch=args.epoch, worker=args.worker)
    return 0 if record is None else exit_code(record.status)


def _print_tree(home: Home, record: RunRecord, store: RunStore | None = None) -> None:
    if not record.children and record.steps:  # all there is to show is in hand
        sys.stdout.write("\n".join(run_tree(record)) + "\n")
        return
    own = store is None
    store = open_store(home) if store is None else store
    try:

        def read(run_id: str) -> RunRecord:
            return store.get_run(run_id, children_limit=MAX_CHILDREN_LISTED)

        # the run just ended holds its counts and the children to show: not read again (its
        # steps' outputs may be big)
        lines = run_tree(record if record.child_counts else read(record.run_id), read)
    finally:
        if own:
            store.close()
    sys.stdout.write("\n".join(lines) + "\n")


def cmd_dry(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.runtime.plan import dry_plan

    home = Home.from_env()
    workflow = load_workflow(args.target, home)
    for line in dry_plan(workflow, _given_params(args.params, extra), load_base(home)):
        print(line)
    return 0


def cmd_validate(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.spec import cron, load_file, schedule_warnings, validate_children

    cron.FULL_CHECK = True  # cron lines are checked by the cron library too
    home = Home.from_env()
    failed = False
    for name in args.files:
        try:
            workflow = load_file(name)
            problems = validate_children(workflow, str(home.dags_dir))
            if problems:
                from plait.errors import SpecError

                raise SpecError(problems)
        except (PlaitError, OSError) as error:
            failed = True
            message = error.message if isinstance(error, PlaitError) else str(error)
            print(message, file=sys.stderr)
        else:
            print(f"{name}: ok ({workflow.name}, {len(workflow.steps)} steps)")
            for warning in schedule_warnings(workflow) + worker_warnings(workflow, home):
                print(f"{name}: warning: {warning}", file=sys.stderr)
    return 1 if failed else 0


def _store_or_none(home: Home) -> RunStore:
    """The store, after marking failed the runs whose agent died."""
    from plait.runtime.recovery import recover

    store = open_store(home, existing=True)
    recover(store)
    return store


def _find_run(store: RunStore, home: Home, target: str | None, run_id: str | None) -> RunRecord:
    if run_id:
        run = store.get_run(run_id)
        if target is not None:
            name = resolve_name(target, home)
            if run.name != name and run.parent_run_id is None:
                raise NotFoundError(f"run {run_id} is a run of {run.name}, not of {name}")
        return run
    if target is None:
        raise UsageError("give a workflow (FILE or NAME) or --run-id")
    name = resolve_name(target, home)
    latest = store.latest_run(name)
    if latest is None:
        raise NotFoundError(f"workflow {name} has no runs")
    return latest


def cmd_status(args: argparse.Namespace, extra: list[str]) -> int:
    home = Home.from_env()
    store = _store_or_none(home)
    try:
        run = _find_run(store, home, args.target, args.run_id)
        reason = None
        if run.status is RunStatus.QUEUED:
            from plait.queue import load_config
            from plait.queue.listing import waiting_reason

            reason = waiting_reason(store, load_config(home.config_file), run.run_id)
        from plait.queue.started import started_by, started_runs

        by = started_by(store, run.root_run_id or run.run_id)
        started = started_runs(store, run.run_id)
        if args.json:
            print_json(
                {
                    **run.to_json(),
                    **({"waitingReason": reason} if reason else {}),
                    "startedBy": by,
                    "started": started,
                }
            )
        else:
            lines = run_tree(run, store.get_run)
            if reason:
                lines.insert(1, f"  waiting: {reason}")
            if by is not None:
                lines.insert(
                    1,
                    f"  started by: {by['name'] or '?'} run {by['runId']}, "
                    f"step {by['step']} (it did not wait)",
                )
            for other in started:
                lines.append(
                    f"  started: {other['name'] or '?'} run {other['runId']} by step "
                    f"{other['step']} (not waited for): {other['status'] or 'gone'}"
                )
            print("\n".join(lines))
    finally:
        store.close()
    return 0


def cmd_history(args: argparse.Namespace, extra: list[str]) -> int:
    home = Home.from_env()
    store = _store_or_none(home)
    try:
        name = resolve_name(args.target, home) if args.target else None
        runs = store.list_runs(name, limit=args.limit)
    finally:
        store.close()
    if args.json:
        print_json([run.to_json() for run in runs])
    else:
        print("\n".join(history_table(runs, with_names=args.target is None)))
    return 0


def cmd_logs(args: argparse.Namespace, extra: list[str]) -> int:
    home = Home.from_env()
    store = _store_or_none(home)
    try:
        run = _find_run(store, home, args.target, args.run_id)
        step = _log_step(store, run, args.step, args.attempt)
        path = step.stderr_path if args.stderr else step.stdout_path
        if not path:
            raise NotFoundError(f"step {args.step} of run {run.run_id} has no log yet")

        def where_now() -> str | None:
            # a child run's small log moves into its root's pack when the run ends
            again = store.get_run(run.run_id, children_limit=0)
            now = _log_step(store, again, args.step, step.attempt)
            return now.stderr_path if args.stderr else now.stdout_path

        _copy_log(path, follow=args.follow, store=store, run_id=run.run_id, where_now=where_now)
    finally:
        store.close()
    return 0


def _log_step(store: RunStore, run: RunRecord, name: str, attempt: int | None) -> StepRecord:
    try:
        step = run.step(name)
    except KeyError:
        names = ", ".join(s.name for s in run.steps)
        raise NotFoundError(f"run {run.run_id} has no step {name!r} (steps: {names})") from None
    if attempt is None or attempt == step.attempt:
        return step
    for earlier in store.attempts(run.run_id, name):
        if earlier.attempt == attempt:
            return earlier
    raise NotFoundError(f"step {name} of run {run.run_id} has no attempt {attempt}")


def _copy_log(
    path: str,
    *,
    follow: bool,
    store: RunStore,
    run_id: str,
    where_now: Callable[[], str | None] | None = None,
) -> None:
    """Print a step's log (the file, or with a store that ships logs what was shipped of it);
    with ``follow``, what it writes after too, until its run ends (then at ``where_now()``
    if the log moved meanwhile)."""
    from plait.api.logs import LogSource, ShippedLog, read_range

    def source_of(path: str) -> LogSource:
        return ShippedLog(store, run_id, path) if store.SHIPS_LOGS else path

    source = source_of(path)
    out = sys.stdout.buffer
    position = 0
    last = not follow
    while True:
        window = read_range(source, position, 1024 * 1024)
        if window.content:
            out.write(window.content)
            position = window.next_offset
            continue
        out.flush()
        if last:
            moved = where_now() if follow and where_now is not None else None
            if moved is None or moved == path:
                return
            path, source = moved, source_of(moved)
            continue
        # the run's end is read first: what was written before it is read after, then stop
        last = store.get_run(run_id, children_limit=0).status.is_final
        if not last:
            time.sleep(0.2)


def _active_runs(
    store: RunStore, home: Home, target: str | None, run_id: str | None
) -> list[RunRecord]:
    if run_id:
        return [_find_run(store, home, target, run_id)]
    if target is None:
        raise UsageError("give a workflow (FILE or NAME) or --run-id")
    name = resolve_name(target, home)
    return store.list_runs(name, statuses=ACTIVE_RUN_STATUSES, limit=1000, roots_only=True)


def cmd_stop(args: argparse.Namespace, extra: list[str]) -> int:
    home = Home.from_env()
    store = _store_or_none(home)
    try:
        runs = _active_runs(store, home, args.target, args.run_id)
        active = [run for run in runs if not run.status.is_final]
        if args.started:
            from plait.queue.started import started_runs_to_stop

            known = {run.run_id for run in active}
            for run in runs:
                for started in started_runs_to_stop(store, run.run_id):
                    if started not in known:
                        known.add(started)
                        active.append(store.get_run(started, children_limit=0))
        if not active:
            what = args.run_id or args.target
            print(f"nothing to stop: {what} has no active run")
            return 0
        for run in active:
            store.stop(run.run_id)
        if not args.no_wait:
            _wait_final(store, [run.run_id for run in active])
        for run in active:
            final = store.get_run(run.run_id)
            print(f"{final.name} run {final.run_id}: {final.status}")
    finally:
        store.close()
    return 0


def _wait_final(store: RunStore, run_ids: list[str], timeout: float = 120.0) -> None:
    from plait.runtime.recovery import recover

    deadline = time.monotonic() + timeout
    pending = set(run_ids)
    while pending and time.monotonic() < deadline:
        recover(store)
        pending = {
            rid for rid in pending if not store.get_run(rid, children_limit=0).status.is_final
        }
        if pending:
            time.sleep(0.1)


def cmd_retry(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.app import retry_run

    home = Home.from_env()
    store = _store_or_none(home)
    try:
        run = _find_run(store, home, args.target, args.run_id)
    finally:
        store.close()
    observer = Progress() if sys.stderr.isatty() and not args.quiet else None
    record = retry_run(
        run,
        home=home,
        step=args.step,
        downstream=args.downstream,
        observer=observer,
        on_wait=_tell_waiting,
    )
    _print_tree(home, record)
    return exit_code(record.status)


def cmd_approve(args: argparse.Namespace, extra: list[str]) -> int:
    inputs: dict[str, str] = {}
    for pair in args.input:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"approve: an input is NAME=VALUE, not {pair!r}")
        inputs[name] = value
    return _decide(args, approve=True, inputs=inputs)


def cmd_reject(args: argparse.Namespace, extra: list[str]) -> int:
    return _decide(args, approve=False, reason=args.reason)


def _decide(
    args: argparse.Namespace,
    *,
    approve: bool,
    inputs: dict[str, str] | None = None,
    reason: str | None = None,
) -> int:
    from plait.app import decide_step

    home = Home.from_env()
    root = decide_step(
        args.run_id, args.step, home=home, approve=approve, inputs=inputs, reason=reason
    )
    said = "approved" if approve else "rejected"
    print(f"step {args.step} of run {args.run_id} {said}", file=sys.stderr)
    if args.no_resume:
        return 0
    return _resume(home, root.run_id, quiet=args.quiet)


def cmd_resume(args: argparse.Namespace, extra: list[str]) -> int:
    return _resume(Home.from_env(), args.run_id, quiet=args.quiet)


def _resume(home: Home, run_id: str, *, quiet: bool) -> int:
    from plait.app import retry_run

    store = _store_or_none(home)
    try:
        run = store.get_run(run_id)
    finally:
        store.close()
    observer = Progress() if sys.stderr.isatty() and not quiet else None
    record = retry_run(run, home=home, observer=observer, on_wait=_tell_waiting, resume=True)
    _print_tree(home, record)
    return exit_code(record.status)


def cmd_restart(args: argparse.Namespace, extra: list[str]) -> int:
    home = Home.from_env()
    store = _store_or_none(home)
    try:
        runs = _active_runs(store, home, args.target, args.run_id)
        if not runs:
            latest = store.latest_run(resolve_name(args.target, home))
            if latest is None:
                raise NotFoundError(f"workflow {args.target} has no runs to restart")
            runs = [latest]
        for run in runs:
            if not run.status.is_final:
                store.stop(run.run_id)
        _wait_final(store, [run.run_id for run in runs])
        previous = runs[0]
    finally:
        store.close()
    workflow = load_workflow(args.target, home)
    params = previous.params_to_replay()
    observer = Progress() if sys.stderr.isatty() and not args.quiet else None
    record = start_run(workflow, home=home, params=params, observer=observer)
    _print_tree(home, record)
    return exit_code(record.status)


def cmd_server(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.api import serve  # the web stack is imported by this command alone

    serve(Home.from_env(), host=args.host, port=args.port, insecure_no_auth=args.insecure_no_auth)
    return 0


def cmd_start_all(args: argparse.Namespace, extra: list[str]) -> int:
    """The server and the scheduler in one process tree: the scheduler is a child process,
    stopped when the server stops."""
    import subprocess

    from plait.api import serve
    from plait.api.security import Auth
    from plait.api.server import check_exposure

    check_exposure(args.host, Auth.from_env(), insecure_no_auth=args.insecure_no_auth)
    home = Home.from_env()
    home.root.mkdir(parents=True, exist_ok=True)
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "plait", "scheduler"],
        env={**os.environ, "PLAIT_EXIT_WITH_PARENT": str(os.getpid())},
    )
    try:
        serve(home, host=args.host, port=args.port, insecure_no_auth=args.insecure_no_auth)
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(timeout=10)
        except subprocess.TimeoutExpired:
            scheduler.kill()
    return 0


def cmd_schema(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.spec import json_schema

    print_json(json_schema())
    return 0


def cmd_db(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.app import store_url

    home = Home.from_env()
    migrating = args.db_command == "migrate"
    if not migrating and not store_url(home) and not home.db_path.exists():
        report: dict[str, object] = {
            "backend": "sqlite",
            "store": str(home.db_path),
            "exists": False,
            "schema": 0,
            "latest": None,
            "pending": [],
            "applied": [],
        }
        if args.json:
            print_json(report)
        else:
            print(f"store: sqlite {home.db_path} (not made yet: the first run makes it)")
        return 0
    store = open_store(home, migrate=False)
    try:
        applied = store.migrate() if migrating else []
        version, latest = store.schema_version()
        pending = store.pending_migrations()
        report = {
            "backend": store.backend,
            "store": store.where,
            "exists": True,
            "schema": version,
            "latest": latest,
            "pending": pending,
            "applied": applied,
        }
    finally:
        store.close()
    if args.json:
        print_json(report)
        return 0
    print(f"store: {report['backend']} {report['store']}")
    print(f"schema: {version} (this plait's newest: {latest})")
    if migrating:
        print(f"applied: {', '.join(applied)}" if applied else "nothing to apply")
    elif pending:
        print(f"pending: {', '.join(pending)}; `plait db migrate` applies them")
    return 0


def cmd_worker(args: argparse.Namespace, extra: list[str]) -> int:
    import logging

    from plait.errors import StoreError
    from plait.worker import Worker, parse_labels, serve_until_signalled

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    home = Home.from_env()
    labels = parse_labels(args.labels)
    store = open_store(home)
    try:
        if store.backend != "postgresql":
            raise StoreError(
                "plait worker needs the PostgreSQL store: set PLAIT_DATABASE_URL "
                "(or store.url in config.yaml) to the database the scheduler uses"
            )
        from plait import __version__

        worker = Worker(
            home,
            store,
            worker_id=args.id or os.uname().nodename,
            labels=labels,
            slots=args.slots,
            version=__version__,
        )
        print(
            f"plait worker {worker.info.worker_id}: {store.where}, {args.slots} slots",
            flush=True,
        )
        serve_until_signalled(worker)
    finally:
        store.close()
    return 0


def cmd_workers(args: argparse.Namespace, extra: list[str]) -> int:
    from plait.worker import worker_listing

    home = Home.from_env()
    store = open_store(home)
    try:
        rows = worker_listing(store)
    finally:
        store.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no workers" + ("" if store.backend == "postgresql" else " (SQLite store)"))
    for row in rows:
        labels = ",".join(f"{k}={v}" for k, v in sorted(row["labels"].items())) or "-"
        print(
            f"{row['id']}  {row['state']}  {row['host']}  {labels}  "
            f"{row['busy']}/{row['slots']} slots  beat {row['heartbeatAt']}"
        )
        for run_id in row["runs"]:
            print(f"  {run_id}")
    return 0


def cmd_version(args: argparse.Namespace, extra: list[str]) -> int:
    from plait import __version__

    print(f"plait {__version__}")
    return 0
