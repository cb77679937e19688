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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="plait", description="Run YAML workflows and look at their runs.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    start = commands.add_parser("start", help="run a workflow in the foreground")
    start.add_argument("target", metavar="FILE|NAME")
    start.add_argument("--params", "-p", default=None, help='params, e.g. "K=V K2=\\"a b\\""')
    start.add_argument("--run-id", default=None, help="the id to give the run")
    start.add_argument("--quiet", "-q", action="store_true", help="print no progress")
    start.add_argument(
        "--no-wait", action="store_true", help="fail instead of waiting for a queue slot"
    )

    enqueue = commands.add_parser("enqueue", help="put a run in its queue for the scheduler")
    enqueue.add_argument("target", metavar="FILE|NAME")
    enqueue.add_argument("--params", "-p", default=None)
    enqueue.add_argument("--run-id", default=None)
    enqueue.add_argument("--queue", default=None, help="the queue (default: the workflow's)")

    dequeue = commands.add_parser("dequeue", help="take a waiting run out of its queue")
    dequeue.add_argument("--run-id", required=True)

    queue = commands.add_parser("queue", help="queues: running and waiting runs")
    queue_commands = queue.add_subparsers(
        dest="queue_command", metavar="COMMAND", parser_class=_Parser
    )
    queue_list = queue_commands.add_parser("list", help="running and waiting runs per queue")
    queue_list.add_argument("--json", action="store_true")

    commands.add_parser("scheduler", help="run the scheduler (cron schedules and queues)")

    schedule = commands.add_parser("schedule", help="scheduled workflows")
    schedule_commands = schedule.add_subparsers(
        dest="schedule_command", metavar="COMMAND", parser_class=_Parser
    )
    schedule_list = schedule_commands.add_parser("list", help="scheduled workflows, next runs")
    schedule_list.add_argument("--json", action="store_true")
    schedule_list.add_argument("--count", type=int, default=3, help="next run times to show")

    agent = commands.add_parser("agent")  # started by the scheduler for a queued run
    agent.add_argument("--run-id", required=True)

    dry = commands.add_parser("dry", help="show the plan and resolved commands; run nothing")
    dry.add_argument("target", metavar="FILE|NAME")
    dry.add_argument("--params", "-p", default=None)

    validate = commands.add_parser("validate", help="check workflow files")
    validate.add_argument("files", nargs="+", metavar="FILE")

    status = commands.add_parser("status", help="show a run (the latest by default)")
    status.add_argument("target", metavar="FILE|NAME", nargs="?")
    status.add_argument("--run-id", default=None)
    status.add_argument("--json", action="store_true")

    history = commands.add_parser("history", help="list the runs of a workflow")
    history.add_argument("target", metavar="FILE|NAME", nargs="?")
    history.add_argument("--limit", type=int, default=20)
    history.add_argument("--json", action="store_true")

    logs = commands.add_parser("logs", help="print a step's log")
    logs.add_argument("target", metavar="FILE|NAME", nargs="?")
    logs.add_argument("--run-id", default=None)
    logs.add_argument("--step", required=True)
    logs.add_argument("--stderr", action="store_true")
    logs.add_argument("--attempt", type=int, default=None)
    logs.add_argument("--follow", "-f", action="store_true")

    stop = commands.add_parser("stop", help="stop a run (all active runs of the workflow)")
    stop.add_argument("target", metavar="FILE|NAME", nargs="?")
    stop.add_argument("--run-id", default=None)
    stop.add_argument("--no-wait", action="store_true", help="do not wait for the run to end")

    retry = commands.add_parser("retry", help="run a finished run again, keeping what succeeded")
    retry.add_argument("target", metavar="FILE|NAME", nargs="?")
    retry.add_argument("--run-id", required=True)
    retry.add_argument("--step", default=None, help="run only this step again")
    retry.add_argument("--downstream", action="store_true", help="with --step: and what follows")
    retry.add_argument("--quiet", "-q", action="store_true")

    restart = commands.add_parser("restart", help="stop a run, then start it with its params")
    restart.add_argument("target", metavar="FILE|NAME")
    restart.add_argument("--run-id", default=None)
    restart.add_argument("--quiet", "-q", action="store_true")

    commands.add_parser("schema", help="print the JSON Schema of the workflow format")
    commands.add_parser("version", help="print the version")
    return parser


def _split_dashdash(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1 :]
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    args_list, extra = _split_dashdash(list(sys.argv[1:] if argv is None else argv))
    try:
        parser = _parser()
        args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help()
            return 2
        from plait.cli import commands

        handler = getattr(commands, f"cmd_{args.command}")
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
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
