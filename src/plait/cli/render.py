"""What the CLI prints: the final tree of a run, live progress lines, history tables."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from plait.model import ChildRecord, RunRecord, RunStatus, StepRecord, StepStatus
from plait.runtime.agent import Observer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["MAX_CHILDREN_LISTED", "Progress", "duration", "history_table", "run_tree"]

MAX_CHILDREN_LISTED = 10
_OUTPUT_LINES = 3
_LINE_WIDTH = 200

_MARK = {
    "succeeded": "✓",
    "partially_succeeded": "✓",
    "failed": "✗",
    "upstream_failed": "·",
    "cancelled": "■",
    "skipped": "↷",
    "not_started": " ",
    "running": "…",
    "queued": "…",
    "waiting": "‖",
}


def duration(start: float | None, end: float | None) -> str:
    if start is None:
        return ""
    seconds = (end if end is not None else time.time()) - start
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _head(path: str | None, lines: int) -> list[str]:
    if not path:
        return []
    from plait.proc.logpack import read_start

    try:
        data = read_start(path, 4096)
    except OSError:
        return []
    text = [
        line if len(line) <= _LINE_WIDTH else line[: _LINE_WIDTH - 1] + "…"
        for line in data.decode(errors="replace").rstrip("\n").splitlines()
    ]
    shown = text[:lines]
    if len(text) > lines:
        shown.append("…")
    return shown


def run_tree(
    run: RunRecord, children_of: Callable[[str], RunRecord] | None = None, indent: str = ""
) -> list[str]:
    """The run and its steps as a tree, with children under the steps that started them."""
    lines = [
        f"{indent}{run.name}  {_MARK.get(str(run.status), '?')} {run.status}  "
        f"{duration(run.started_at, run.finished_at)}  run {run.run_id}"
    ]
    if run.error and run.status is not RunStatus.SUCCEEDED:
        lines.append(f"{indent}  error: {run.error}")
    steps = run.steps
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        lines.extend(_step_lines(run, step, last, indent, children_of))
    return lines


def _step_lines(
    run: RunRecord,
    step: StepRecord,
    last: bool,
    indent: str,
    children_of: Callable[[str], RunRecord] | None,
) -> list[str]:
    branch, pipe = ("└─ ", "   ") if last else ("├─ ", "│  ")
    title = f"{step.name}" + (" (handler)" if step.handler else "")
    timing = duration(step.started_at, step.finished_at)
    extra = f"  exit {step.exit_code}" if step.exit_code not in (None, 0) else ""
    attempts = f"  attempt {step.attempt}" if step.attempt > 1 else ""
    lines = [
        f"{indent}{branch}{_MARK.get(str(step.status), '?')} {title}  {step.status}  "
        f"{timing}{extra}{attempts}".rstrip()
    ]
    body = indent + pipe + "   "
    if step.error and step.status is not StepStatus.SUCCEEDED:
        lines.append(f"{body}error: {step.error}")
    children = [c for c in run.children if c.step == step.name]
    if children:
        counts = run.child_counts.get(step.name) or _count(children)
        lines.extend(_children_lines(children, counts, body, children_of))
    elif step.status in (StepStatus.SUCCEEDED, StepStatus.FAILED):
        lines.extend(f"{body}{text}" for text in _head(step.stdout_path, _OUTPUT_LINES))
        if step.status is StepStatus.FAILED:
            lines.extend(f"{body}stderr: {text}" for text in _head(step.stderr_path, 2))
    return lines


def _count(children: list[ChildRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for child in children:
        counts[str(child.status)] = counts.get(str(child.status), 0) + 1
    return counts


def _children_lines(
    children: list[ChildRecord],
    counts: dict[str, int],
    body: str,
    children_of: Callable[[str], RunRecord] | None,
) -> list[str]:
    """A step's children: each (with its own tree) when they are few; else their counts and
    the first of those that did not succeed (``children`` holds those first)."""
    lines: list[str] = []
    shown = children
    total = sum(counts.values())
    if total > MAX_CHILDREN_LISTED:
        summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
        lines.append(f"{body}{total} runs: {summary}")
        shown = [c for c in children if c.status not in (RunStatus.SUCCEEDED,)][
            :MAX_CHILDREN_LISTED
        ]
    for child in shown:
        label = f"[{child.item_index}] {child.item}  " if child.item_index is not None else ""
        if children_of is not None and total <= MAX_CHILDREN_LISTED:
            nested = children_of(child.run_id)
            sub = run_tree(nested, children_of, body)
            sub[0] = f"{body}{label}{sub[0][len(body) :]}"
            lines.extend(sub)
        else:
            lines.append(
                f"{body}{label}{child.name}  {_MARK.get(str(child.status), '?')} "
                f"{child.status}  run {child.run_id}"
                + (f"  error: {child.error}" if child.error else "")
            )
    return lines


def history_table(runs: list[RunRecord], with_names: bool = False) -> list[str]:
    """Runs as a table; ``with_names`` adds a WORKFLOW column (runs of several workflows)."""
    rows: list[tuple[str, ...]] = [("RUN ID", "STATUS", "STARTED", "DURATION", "PARAMS")]
    for run in runs:
        started = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started_at))
            if run.started_at
            else "-"
        )
        params = " ".join(f"{k}={v}" for k, v in run.params_json().items())
        rows.append(
            (
                run.run_id,
                str(run.status),
                started,
                duration(run.started_at, run.finished_at),
                params[:60],
            )
        )
    if with_names:
        names = ["WORKFLOW", *(run.name for run in runs)]
        rows = [(name, *row) for name, row in zip(names, rows, strict=True)]
    last = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(last)]
    return [
        "  ".join(
            cell.ljust(widths[i]) if i < last else cell for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


class Progress(Observer):
    """Live progress of a run on a terminal: one line per step that starts or ends."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _prefix(self, run: RunRecord) -> str:
        if run.parent_run_id is None:
            return ""
        item = f"[{run.item_index}]" if run.item_index is not None else ""
        return f"{'  ' * run.depth}{run.name}{item} › "

    def run_started(self, run: RunRecord) -> None:
        if run.parent_run_id is None:
            self._write(f"▶ {run.name}  run {run.run_id}")

    def step_started(self, run: RunRecord, step: StepRecord) -> None:
        again = f" (attempt {step.attempt})" if step.attempt > 1 else ""
        self._write(f"  {self._prefix(run)}{step.name} started{again}")

    def step_finished(self, run: RunRecord, step: StepRecord) -> None:
        mark = _MARK.get(str(step.status), "?")
        self._write(
            f"  {self._prefix(run)}{mark} {step.name} {step.status} "
            f"{duration(step.started_at, step.finished_at)}"
        )

    def run_finished(self, run: RunRecord) -> None:
        if run.parent_run_id is not None:
            self._write(f"  {self._prefix(run)}{run.status}")
