"""``plait`` command line: parse arguments, call the layers, print, exit with a code.

Only what a command needs is imported, so that ``plait start`` reaches its first step fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from plait.errors import PlaitError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["main"]


class _Formatter(argparse.HelpFormatter):
    """argparse's own formatter asks shutil for the terminal width; os is enough (and
    importing shutil costs more than a whole ``plait start`` should spend on it)."""

    def __init__(self, prog: str) -> None:
        try:
            width = os.get_terminal_size().columns - 2
        except OSError:
            width = 78
        super().__init__(prog, width=max(width, 40))


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("plait").strip()
        raise UsageError(f"{command}: {message}" if command else message)


class _Skipped:
    """Stands in for the parser of a command that is not being run: building all of them
    costs more than a whole ``plait start`` of a small workflow should."""

    def add_argument(self, *args: object, **kwargs: object) -> None:
        pass

    def add_subparsers(self, *args: object, **kwargs: object) -> _Skipped:
        return self

    def add_parser(self, *args: object, **kwargs: object) -> _Skipped:
        return self


def _priority(text: str) -> int:
    """``--priority``: an integer in the one range every entry point keeps (a usage error)."""
    from plait.spec.priority import priority_arg

    return priority_arg(text)


def _positive(text: str) -> int:
    """A count or a limit: a whole number of 1 or more (else a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line parser; with ``only``, just that command's part is built."""
    parser = _Parser(prog="plait", description="Run YAML workflows and look at their runs.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, **kwargs: object) -> Any:
        if only is not None and name != only:
            return _Skipped()
        return commands.add_parser(name, **kwargs)  # type: ignore[arg-type]

    start = add("start", help="run a workflow in the foreground")
    start.add_argument("target", metavar="FILE|NAME")
    start.add_argument("--params", "-p", default=None, help='params, e.g. "K=V K2=\\"a b\\""')
    start.add_argument("--run-id", default=None, help="the id to give the run")
    start.add_argument("--quiet", "-q", action="store_true", help="print no progress")
    start.add_argument(
        "--no-wait", action="store_true", help="fail instead of waiting for a queue slot"
    )
    start.add_argument(
        "--priority", type=_priority, default=None, help="its place in the queue: higher first"
    )

    enqueue = add("enqueue", help="put a run in its queue for the scheduler")
    enqueue.add_argument("target", metavar="FILE|NAME")
    enqueue.add_argument("--params", "-p", default=None)
    enqueue.add_argument("--run-id", default=None)
    enqueue.add_argument("--queue", default=None, help="the queue (default: the workflow's)")
    enqueue.add_argument(
        "--priority", type=_priority, default=None, help="its place in the queue: higher first"
    )

    dequeue = add("dequeue", help="take a waiting run out of its queue")
    dequeue.add_argument("--run-id", required=True)

    queue = add("queue", help="queues: running and waiting runs")
    queue_commands = queue.add_subparsers(
        dest="queue_command", metavar="COMMAND", parser_class=_Parser
    )
    queue_list = queue_commands.add_parser("list", help="running and waiting runs per queue")
    queue_list.add_argument("--json", action="store_true")
    for verb, what in (("pause", "hold its waiting runs"), ("resume", "let its runs start")):
        toggle = queue_commands.add_parser(verb, help=f"{verb} a queue: {what}")
        toggle.add_argument("name", metavar="QUEUE")

    webhook = add("webhook", help="webhook tokens: other systems start a workflow's runs")
    webhook_commands = webhook.add_subparsers(
        dest="webhook_command", metavar="COMMAND", parser_class=_Parser
    )
    webhook_create = webhook_commands.add_parser(
        "create", help="make (or replace) a workflow's token; it is printed once"
    )
    webhook_create.add_argument("name", metavar="NAME")
    webhook_list = webhook_commands.add_parser("list", help="the workflows that have a token")
    webhook_list.add_argument("--json", action="store_true")
    webhook_revoke = webhook_commands.add_parser("revoke", help="revoke a workflow's token")
    webhook_revoke.add_argument("name", metavar="NAME")

    add("scheduler", help="run the scheduler (cron schedules and queues)")

    worker = add("worker", help="take runs sent to this machine (PostgreSQL store)")
    worker.add_argument("--labels", default="", help="this worker's labels: gpu=true,zone=eu")
    worker.add_argument("--slots", type=_positive, default=4, help="runs at once (4)")
    worker.add_argument("--id", default=None, help="the worker's id (default: the host name)")

    workers = add("workers", help="the workers: labels, slots in use, heartbeat, runs")
    workers.add_argument("--json", action="store_true")

    schedule = add("schedule", help="scheduled workflows")
    schedule_commands = schedule.add_subparsers(
        dest="schedule_command", metavar="COMMAND", parser_class=_Parser
    )
    schedule_list = schedule_commands.add_parser("list", help="scheduled workflows, next runs")
    schedule_list.add_argument("--json", action="store_true")
    schedule_list.add_argument("--count", type=_positive, default=3, help="next run times to show")
    for verb, what in (("pause", "its fire times are skipped"), ("resume", "it fires again")):
        toggle = schedule_commands.add_parser(verb, help=f"{verb} a workflow's schedule: {what}")
        toggle.add_argument("name", metavar="NAME")
    skipped = schedule_commands.add_parser(
        "skipped", help="the fire times of a workflow's schedule that did not run, and why"
    )
    skipped.add_argument("name", metavar="NAME")
    skipped.add_argument(
        "--limit", type=_positive, default=100, help="the newest N (100; 2000 at most)"
    )
    skipped.add_argument("--json", action="store_true")

    agent = add("agent")  # started by the scheduler (or a worker) for a queued run
    agent.add_argument("--run-id", default=None)
    agent.add_argument("--epoch", type=int, default=None)
    agent.add_argument("--worker", default=None)
    agent.add_argument("--serve", action="store_true")  # a worker's: runs sent on stdin

    dry = add("dry", help="show the plan and resolved commands; run nothing")
    dry.add_argument("target", metavar="FILE|NAME")
    dry.add_argument("--params", "-p", default=None)

    validate = add("validate", help="check workflow files")
    validate.add_argument("files", nargs="+", metavar="FILE")

    status = add("status", help="show a run (the latest by default)")
    status.add_argument("target", metavar="FILE|NAME", nargs="?")
    status.add_argument("--run-id", default=None)
    status.add_argument("--json", action="store_true")

    history = add("history", help="list the runs of a workflow")
    history.add_argument("target", metavar="FILE|NAME", nargs="?")
    history.add_argument("--limit", type=_positive, default=20)
    history.add_argument("--json", action="store_true")

    logs = add("logs", help="print a step's log")
    logs.add_argument("target", metavar="FILE|NAME", nargs="?")
    logs.add_argument("--run-id", default=None)
    logs.add_argument("--step", required=True)
    logs.add_argument("--stderr", action="store_true")
    logs.add_argument("--attempt", type=int, default=None)
    logs.add_argument("--follow", "-f", action="store_true")

    stop = add("stop", help="stop a run (all active runs of the workflow)")
    stop.add_argument("target", metavar="FILE|NAME", nargs="?")
    stop.add_argument("--run-id", default=None)
    stop.add_argument("--no-wait", action="store_true", help="do not wait for the run to end")
    stop.add_argument(
        "--started",
        action="store_true",
        help="also stop the runs it started without waiting (wait: false), at any depth",
    )

    retry = add("retry", help="run a finished run again, keeping what succeeded")
    retry.add_argument("target", metavar="FILE|NAME", nargs="?")
    retry.add_argument("--run-id", required=True)
    retry.add_argument("--step", default=None, help="run only this step again")
    retry.add_argument("--downstream", action="store_true", help="with --step: and what follows")
    retry.add_argument("--quiet", "-q", action="store_true")

    approve = add("approve", help="approve a step that waits for a person; the run goes on")
    approve.add_argument("run_id", metavar="RUN_ID")
    approve.add_argument("step", metavar="STEP")
    approve.add_argument(
        "--input", "-i", action="append", default=[], metavar="K=V", help="an input (repeat)"
    )
    approve.add_argument("--quiet", "-q", action="store_true")
    approve.add_argument(
        "--no-resume", action="store_true", help="record the answer; let another process resume"
    )
    reject = add("reject", help="reject a step that waits for a person: it fails")
    reject.add_argument("run_id", metavar="RUN_ID")
    reject.add_argument("step", metavar="STEP")
    reject.add_argument("--reason", default=None, help="why (kept in the step's error)")
    reject.add_argument("--quiet", "-q", action="store_true")
    reject.add_argument(
        "--no-resume", action="store_true", help="record the answer; let another process resume"
    )
    resume = add("resume", help="go on with a run whose waiting steps were decided")
    resume.add_argument("run_id", metavar="RUN_ID")
    resume.add_argument("--quiet", "-q", action="store_true")

    restart = add("restart", help="stop a run, then start it with its params")
    restart.add_argument("target", metavar="FILE|NAME")
    restart.add_argument("--run-id", default=None)
    restart.add_argument("--quiet", "-q", action="store_true")

    server = add("server", help="serve the REST API and the web UI")
    server.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    server.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    server.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve a non-loopback address without authentication (refused otherwise)",
    )
    start_all = add("start-all", help="the server and the scheduler together")
    start_all.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    start_all.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    start_all.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve a non-loopback address without authentication (refused otherwise)",
    )

    db = add("db", help="the store: its schema and migrations")
    db_commands = db.add_subparsers(dest="db_command", metavar="COMMAND", parser_class=_Parser)
    db_commands.required = True
    db_status = db_commands.add_parser("status", help="the store, its schema, what is pending")
    db_status.add_argument("--json", action="store_true")
    db_migrate = db_commands.add_parser("migrate", help="apply the migrations the store lacks")
    db_migrate.add_argument("--json", action="store_true")

    add("schema", help="print the JSON Schema of the workflow format")
    add("version", help="print the version")
    return parser


def _split_dashdash(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    args_list, extra = _split_dashdash(list(sys.argv[1:] if argv is None else argv))
    try:
        first = args_list[0] if args_list else None
        only = first if first and not first.startswith("-") else None
        parser = _parser(only)
        try:
            args = parser.parse_args(args_list)
        except UsageError:
            if only is None:
                raise
            parser = _parser()  # the full parser names every command in its message
            args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help()
            return 2
        from plait.spec import compiled
        from plait.store import Home

        compiled.use_folder(Home.from_env().cache_dir)
        from plait.cli import commands

        handler = getattr(commands, f"cmd_{args.command.replace('-', '_')}")
        return int(handler(args, extra))
    except PlaitError as error:
        print(
            f"plait: {error.message}" if "\n" not in error.message else error.message,
            file=sys.stderr,
        )
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # a bug: one line for the user, the traceback on request
        import os

        if os.environ.get("PLAIT_DEBUG"):
            raise
        print(
            f"plait: internal error: {type(error).__name__}: {error} "
            "(set PLAIT_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 70


def print_json(value: object) -> None:
    """``value`` as JSON on stdout, in one write. A list has an element a line (encoded by
    json's C encoder: indenting is done in Python, a third of a second for a listing of
    5,000 workflows); anything else is indented."""
    if isinstance(value, list) and value:
        lines = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
        sys.stdout.write(f"[\n{lines}\n]\n")
        return
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
