"""Steps that run child workflows (``run:``) and fan out over items (``parallel:``).

Every child — a child workflow, or one item of a command fan-out — is a run of its own in the
store, linked to its parent run and step, executed in this process on a thread of the step;
a child workflow with a ``workerSelector`` (its own, or its step's) runs on a worker
(``runtime.remote``).
"""

from __future__ import annotations

import heapq
import json
import os
import threading
import time
import uuid
from array import array

from plait.errors import PlaitError
from plait.expr import REFERENCE, JsonText, parse_json_value, render
from plait.model import (
    CHILDREN_SHOWN,
    ItemsFrom,
    Param,
    RunRecord,
    RunStatus,
    StepRecord,
    StepStatus,
    Workflow,
)
from plait.proc import LineStream
from plait.proc.memory import map_big_blocks, release_freed
from plait.runtime.agent import MAX_DEPTH
from plait.runtime.remote import carried_params, hitl_refusal, remote_selector, run_remote_child
from plait.runtime.run import Parent, RunExecution
from plait.runtime.step import Attempt, retry_interval
from plait.store.ids import new_run_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from plait.runtime.step import StepExecution

__all__ = ["child_result", "run_children"]

STOP_CHECK_SECONDS = 0.5
_DETACHED = uuid.UUID(
    "7d3b9a64-21c8-4e0f-b5a2-9c6e1f4d8a37"
)  # how often an item thread waiting for a retry looks for a stop


def child_result(record: RunRecord) -> dict[str, Any]:
    """What a parent step sees of a child run."""
    return {
        "name": record.name,
        "runId": record.run_id,
        "params": record.params_json(),
        "status": str(record.status),
        "outputs": record.outputs,
    }


def run_children(execution: StepExecution, env: dict[str, str]) -> Attempt:
    """Run the step's child workflow, or its items; the attempt's output is the result JSON."""
    del env  # children build their own environment
    run = execution.run
    if run.depth + 1 > MAX_DEPTH:
        return Attempt(
            exit_code=1,
            error=f"child workflows nested deeper than {MAX_DEPTH} levels (does a workflow "
            "run itself?)",
        )
    try:
        child = _child_workflow(execution)
    except PlaitError as error:
        return Attempt(exit_code=1, error=error.message)
    selector = remote_selector(execution.step, child, run.store)
    refusal = hitl_refusal(child) if selector else None
    if refusal is not None:
        return Attempt(exit_code=1, error=refusal)
    if not execution.step.wait:
        return _detached(execution, child)
    if execution.step.parallel is None:
        return _single(execution, child, _earlier_children(execution), selector)
    try:
        items = _items(execution)
    except PlaitError as error:
        return Attempt(exit_code=1, error=error.message)
    return _fan_out(execution, child, items, _earlier_children(execution), selector)


def _child_workflow(execution: StepExecution) -> Workflow:
    step, run = execution.step, execution.run
    if step.run is None:
        # A command fan-out: each item is a run of a one-step workflow. In this agent it
        # inherits the run's scope (env, dotenv and secrets applied once, not per item); on a
        # worker, the workflow is made again from the stored definition (`step_child`).
        alone = run.workflow.one_step(step)
        if remote_selector(step, alone, run.store) is not None:
            return alone
        return alone.replace(working_dir=run.working_dir, env=(), dotenv=(), secrets=())
    from plait.spec import resolve_child

    ref = execution.scope.expand(step.run)
    return resolve_child(run.workflow, ref, str(run.agent.home.dags_dir))


class _Items:
    """The items of a fan-out, taken one at a time: a list made when the step starts, or the
    lines of a file or of a command's stdout, read as the fan-out goes (never all at once)."""

    def __init__(
        self,
        items: Iterable[object],
        *,
        count: int | None = None,
        endless: bool = False,
        close: Callable[[], str | None] | None = None,
    ) -> None:
        self._iterator = iter(items)
        self.count = count  # known at the start (a list), else None
        self.endless = endless  # a command's output: not read on once the fan-out ends
        self._close = close
        self.error: str | None = None

    def take(self) -> tuple[bool, object]:
        """(True, item), or (False, None) when there is no item left."""
        try:
            return True, next(self._iterator)
        except StopIteration:
            return False, None
        except (OSError, ValueError, PlaitError) as error:
            self.error = error.message if isinstance(error, PlaitError) else str(error)
            return False, None

    def close(self) -> None:
        if self._close is not None:
            problem = self._close()
            self._close = None
            self.error = self.error or problem


def _items(execution: StepExecution) -> _Items:
    parallel = execution.step.parallel
    assert parallel is not None
    scope = execution.scope
    if isinstance(parallel.items, ItemsFrom):
        return _items_from(execution, parallel.items)
    if isinstance(parallel.items, tuple):
        listed = [scope.expand(item) if isinstance(item, str) else item for item in parallel.items]
        return _Items(listed, count=len(listed))
    written = parallel.items.strip()
    text = scope.evaluate(written).strip()
    if text == written and REFERENCE.fullmatch(written):
        raise PlaitError(f"parallel items {written} refer to an unknown variable")
    split = split_items(text)
    return _Items(split, count=len(split))


def _line_item(line: str) -> object:
    """An item of a line of a file or a command: a JSON object or array is one item (JSON
    Lines); any other line is its text."""
    text = line.strip()
    if text[:1] in ("{", "["):
        value = parse_json_value(text)
        if isinstance(value, dict | list):
            return value
    return text


def _items_from(execution: StepExecution, source: ItemsFrom) -> _Items:
    run, scope = execution.run, execution.scope
    if source.file is not None:
        path = os.path.join(run.working_dir, os.path.expanduser(scope.expand(source.file)))
        try:
            handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 (closed by _Items)
        except OSError as error:
            raise PlaitError(f"parallel items file {path}: {error.strerror}") from None
        start = handle.read(4096).lstrip()
        handle.seek(0)

        def close_file() -> str | None:
            handle.close()
            return None

        if start.startswith("["):  # a JSON array: read whole
            try:
                value = json.load(handle)
            except ValueError as error:
                handle.close()
                raise PlaitError(f"parallel items file {path}: not a JSON array: {error}") from None
            handle.close()
            if not isinstance(value, list):
                raise PlaitError(f"parallel items file {path}: not a JSON array")
            return _Items(value, count=len(value))
        lines = (_line_item(line) for line in handle if line.strip())
        return _Items(lines, close=close_file)
    assert source.command is not None
    stream = LineStream(scope.shell(source.command), env=scope.env, cwd=run.working_dir)

    def close_command() -> str | None:
        code = stream.close()
        if code == 0 or run.stopping.is_set():
            return None
        tail = stream.stderr_tail.splitlines()[-1:] if stream.stderr_tail else []
        said = f": {tail[0]}" if tail else ""
        return f"the items command exited with code {code}{said}"

    lines = (_line_item(line) for line in stream if line.strip())
    return _Items(lines, endless=True, close=close_command)


def split_items(text: str) -> list[object]:
    """The items in a text, as the reference finds them: a JSON array (its elements), one
    JSON object (one item), else one item per line, or split at the separator the text uses
    most (``,`` ``;`` ``|`` tab), or quoted words, or words."""
    text = text.strip()
    if not text:
        return []
    value = parse_json_value(text)
    if isinstance(value, list):
        return value
    if value is not None:
        return [value]
    if "\n" in text or "\r" in text:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if text.count('"') >= 2 and (
        text.startswith('"') or text.endswith('"') or '" ' in text or ' "' in text
    ):
        return _quoted_words(text)
    separators = ("\t", "|", ";", ",")  # on a tie, the first of these
    most = max(text.count(sep) for sep in separators)
    if most:
        best = next(sep for sep in separators if text.count(sep) == most)
        return [part.strip() for part in text.split(best) if part.strip()]
    return list(text.split())


def _quoted_words(text: str) -> list[object]:
    items: list[object] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == '"':
            end = text.find('"', position + 1)
            end = len(text) if end < 0 else end
            items.append(text[position + 1 : end])
            position = end + 1
        elif char.isspace():
            position += 1
        else:
            end = position
            while end < len(text) and not text[end].isspace() and text[end] != '"':
                end += 1
            items.append(text[position:end])
            position = end
    return items


def _params(execution: StepExecution, item: object | None, has_item: bool) -> tuple[Param, ...]:
    step, scope = execution.step, execution.scope
    extra = {"ITEM": render(item)} if has_item else None
    # The step's params are its author's text (backticks run); what they reference is data,
    # and the child takes the values as they are.
    params = tuple(Param(p.name, scope.evaluate(p.value, extra)) for p in step.params)
    if step.run is None and has_item:
        params = (*params, Param("ITEM", render(item)))
    elif has_item and not step.params:
        # A child fan-out without `params:`: an object item gives the child its keys as named
        # params; any other item is its positional param $1 (as the reference passes it).
        if isinstance(item, dict):
            return tuple(Param(str(k), render(v)) for k, v in item.items())
        return (Param(None, render(item)),)
    return params


def _launch(
    execution: StepExecution,
    child: Workflow,
    params: tuple[Param, ...],
    index: int | None,
    item: object | None,
    earlier_runs: dict[int | None, str],
    selector: dict[str, str] | None,
) -> RunRecord:
    run = execution.run
    parent = Parent(
        run=run,
        step=execution.step.name,
        item_index=index,
        item=None if index is None else render(item),
    )
    inherit = execution.scope if execution.step.run is None else None
    earlier_id = earlier_runs.get(index)
    if selector is not None:
        if earlier_id is not None:  # an item that never started: its place is taken now
            run.store.forget_not_started(earlier_id)
        if execution.step.run is None:  # an item of a command fan-out: its run's values too
            params = (*carried_params(execution), *params)
        return run_remote_child(child, params, parent, selector, execution.attempts_made)
    earlier = None if earlier_id is None else run.store.get_run(earlier_id, children_limit=0)
    if earlier is not None:
        if earlier.succeeded and index is not None:
            return earlier  # a retried fan-out keeps the items that succeeded
        if not earlier.succeeded:
            # a retried run retries its failed child the same way, keeping what succeeded
            return RunExecution(
                run.agent, child, params=params, parent=parent, scope=inherit, previous=earlier
            ).execute()
    return RunExecution(run.agent, child, params=params, parent=parent, scope=inherit).execute()


def _earlier_children(execution: StepExecution) -> dict[int | None, str]:
    """In a retry: the children this step started in the attempt before, by item index."""
    run = execution.run
    if run.previous is None:
        return {}
    return {
        child.item_index: child.run_id
        for child in run.store.children(run.run_id)
        if child.step == execution.step.name
    }


def _single(
    execution: StepExecution,
    child: Workflow,
    earlier_runs: dict[int | None, str],
    selector: dict[str, str] | None,
) -> Attempt:
    params = _params(execution, None, False)
    record = _launch(execution, child, params, None, None, earlier_runs, selector)
    output = json.dumps(child_result(record), ensure_ascii=False)
    if record.succeeded:
        return Attempt(exit_code=0, output=output)
    if record.status is RunStatus.WAITING:
        return _waiting(output)
    return Attempt(
        exit_code=1,
        output=output,
        error=_child_error(execution, record),
        cancelled=record.status is RunStatus.CANCELLED and execution.run.stopping.is_set(),
    )


def detached_run_id(run_id: str, step: str, attempt: int) -> str:
    """The id of the run a ``wait: false`` step starts: the same for every retry of the run
    (a retried step finds the run it started), another for each attempt of the step."""
    return str(uuid.uuid5(_DETACHED, f"{run_id}/{step}/{attempt}"))


def _detached(execution: StepExecution, child: Workflow) -> Attempt:
    """Start the child workflow as a root run of its own, in its queue, and go on: the
    step's output is its run id. It is linked to this run and step both ways; a stop of this
    run does not stop it. Its params reach it masked where they hold a secret of this run
    (they are stored with it): a child that needs a secret declares it itself."""
    run, step = execution.run, execution.step
    start = run.agent.start_detached
    if start is None:
        return Attempt(exit_code=1, error="this agent cannot start runs of their own (wait: false)")
    masker = run.masker
    params = tuple(Param(p.name, masker.text(p.value)) for p in _params(execution, None, False))
    run_id = detached_run_id(run.run_id, step.name, execution.attempts_made)
    try:
        started = start(child, params, run_id, run.run_id, step.name)
    except PlaitError as error:
        return Attempt(exit_code=1, error=f"child run {child.name} not started: {error.message}")
    return Attempt(exit_code=0, output=started)


def _waiting(output: str) -> Attempt:
    """A step whose child runs wait for a person: it waits with them."""
    attempt = Attempt(exit_code=None, output=output)
    attempt.waiting = True
    return attempt


def _child_error(execution: StepExecution, record: RunRecord) -> str:
    cause = _cause(execution, record)
    reason = f": {cause}" if cause else ""
    return f"child run {record.name} ({record.run_id}) {record.status}{reason}"


def _cause(execution: StepExecution, record: RunRecord) -> str | None:
    """Why ``record`` failed, without repeating every level of a deep failure.

    A child's error already holds its own child's error, and so on down: quoting it at each
    level made the error of a deep failure grow with the square of the depth. The cause is
    taken from the innermost failed run instead, reached through the record tree.
    """
    current, depth = record, 0
    while depth <= MAX_DEPTH + 1:
        step = next((s for s in current.steps if s.status is StepStatus.FAILED), None)
        if step is None:
            break
        nested = next(
            (
                c
                for c in current.children
                if c.step == step.name and c.status not in (RunStatus.SUCCEEDED,)
            ),
            None,
        )
        if nested is None:
            if current is record:
                break
            return (
                f"step {step.name} of {current.name} ({current.run_id}), {depth} levels "
                f"down, failed: {step.error}"
            )
        try:
            current = execution.run.store.get_run(nested.run_id, children_limit=CHILDREN_SHOWN)
        except PlaitError:
            break
        depth += 1
    return record.error


def _fan_out(
    execution: StepExecution,
    child: Workflow,
    items: _Items,
    earlier_runs: dict[int | None, str],
    selector: dict[str, str] | None,
) -> Attempt:
    """Run the items, ``maxConcurrent`` at a time, taking them from their source one by one.
    With a ``retryPolicy``, a failed item is tried again on its own after its interval (the
    same child run, its next attempt) while the other items go on starting; an item waiting
    for its retry holds no slot."""
    try:
        return _fan_out_items(execution, child, items, earlier_runs, selector)
    finally:
        items.close()


def _fan_out_items(
    execution: StepExecution,
    child: Workflow,
    items: _Items,
    earlier_runs: dict[int | None, str],
    selector: dict[str, str] | None,
) -> Attempt:
    step, run = execution.step, execution.run
    assert step.parallel is not None
    map_big_blocks()  # (the end handles a result of many megabytes, copy after copy)
    policy = step.retry_policy
    results = _Results(str(run.log_dir))  # by item index, as the items are taken
    live: dict[int, object] = {}  # the items running or waiting for a retry
    kept: dict[int, object] = {}  # the items whose entry of the result names them
    errors: dict[int, str] = {}
    keep_going = step.continue_on.failure
    changed = threading.Condition()
    in_flight = 0
    exhausted = False
    retries: list[tuple[float, int, int]] = []  # (when, item, retries made), earliest first
    failed = False  # an item failed for good
    finished = 0

    def take() -> tuple[int, int, object] | None:
        """The next item to run and the retries it has had, waiting for a retry that is not
        due yet while other items may still need one; None when nothing is left to start."""
        nonlocal in_flight, exhausted, failed
        with changed:
            while True:
                if run.stopping.is_set() or (failed and not keep_going):
                    return None
                now = time.monotonic()
                if retries and retries[0][0] <= now:
                    _, index, made = heapq.heappop(retries)
                    item = live[index]
                elif not exhausted:
                    got, item = items.take()
                    if not got:
                        exhausted = True
                        failed = failed or items.error is not None
                        continue
                    index, made = results.add(), 0
                    live[index] = item
                elif retries or in_flight:
                    wait = retries[0][0] - now if retries else STOP_CHECK_SECONDS
                    changed.wait(min(wait, STOP_CHECK_SECONDS))
                    continue
                else:
                    return None
                in_flight += 1
                return index, made, item

    def done(index: int, made: int, record: RunRecord | None) -> None:
        nonlocal in_flight, failed, finished
        with changed:
            in_flight -= 1
            finished += 1
            if finished % RELEASE_EVERY == 0:
                release_freed()  # (what the items' threads freed; else RSS grows with them)
            ok = record is not None and (record.succeeded or record.status is RunStatus.WAITING)
            again = False
            if not ok:
                again = policy is not None and made < policy.limit and not run.stopping.is_set()
                if again and record is not None and policy is not None and policy.exit_codes:
                    again = _exit_code(record) in policy.exit_codes
                if again and policy is not None:
                    delay = retry_interval(
                        policy.interval_sec, policy.backoff, policy.max_interval_sec, made + 1
                    )
                    heapq.heappush(retries, (time.monotonic() + delay, index, made + 1))
                else:
                    failed = True
            if not again:
                item = live.pop(index)
                if record is None:
                    kept[index] = item
            changed.notify_all()

    def worker() -> None:
        while (taken := take()) is not None:
            index, made, item = taken
            record: RunRecord | None = None
            try:
                params = _params(execution, item, True)
                earlier = results.run_id(index)
                if made and earlier is not None:
                    previous = run.store.get_run(earlier, children_limit=0)
                    record = _retry_item(execution, child, params, index, item, previous, selector)
                else:
                    record = _launch(execution, child, params, index, item, earlier_runs, selector)
            except Exception as error:  # an item that cannot even start fails, not the agent
                errors[index] = f"{type(error).__name__}: {error}"
            else:
                errors.pop(index, None)
                results.done(index, record)
            done(index, made, record)

    workers = step.parallel.max_concurrent
    if items.count is not None:
        workers = min(workers, items.count)
    threads = [
        threading.Thread(target=worker, name=f"items:{step.name}", daemon=True)
        for _ in range(workers - 1)
    ]
    for thread in threads:
        thread.start()
    try:
        if workers:
            worker()
    finally:
        for thread in threads:
            thread.join()
    kept.update(live)  # (items whose retry was still to come when the fan-out ended)
    if not exhausted and not items.endless:
        # the items never taken (of a list or a file; a command's output is not read on, it
        # may never end): each is one of the result, recorded as not started
        while True:
            got, item = items.take()
            if not got:
                break
            kept[results.add()] = item
    items.close()  # (a command's exit code is part of the step's outcome)
    never = [i for i in range(len(results)) if not results.ended(i) and i not in errors]
    placed = _record_not_started(execution, child, kept, never, earlier_runs) if never else {}
    try:
        return _fan_out_attempt(execution, kept, results, errors, placed, items)
    finally:
        results.close()


RELEASE_EVERY = 1000  # items ended between two returns of freed memory to the system
PLACEHOLDER_BATCH = 10_000  # not_started records written a transaction at a time


def _record_not_started(
    execution: StepExecution,
    child: Workflow,
    items: dict[int, object],
    indices: list[int],
    earlier_runs: dict[int | None, str],
) -> dict[int, str]:
    """Give each item that never started a record of its own, ``not_started`` (a retry of
    the run starts it under that id): the ids by item index. An item that has a record from
    an attempt before keeps that one. Its params are not evaluated (a param's backticks
    would run for an item that does not); its item is kept, masked."""
    run, step = execution.run, execution.step
    store = run.store
    placed = {i: earlier_runs[i] for i in indices if i in earlier_runs}
    fresh = [i for i in indices if i not in placed]
    now = store.now()
    for start in range(0, len(fresh), PLACEHOLDER_BATCH):
        batch: list[tuple[RunRecord, list[StepRecord]]] = []
        ids: list[tuple[int, str]] = []
        for index in fresh[start : start + PLACEHOLDER_BATCH]:
            record = RunRecord(
                run_id=new_run_id(),
                name=child.name,
                status=RunStatus.NOT_STARTED,
                source=child.source,
                created_at=now,
                parent_run_id=run.run_id,
                parent_step=step.name,
                root_run_id=run.root_id,
                item_index=index,
                item=run.masker.text(render(items[index])),
                attempt=0,
                depth=run.depth + 1,
                log_dir=str(run.log_dir),
            )
            steps = [StepRecord(name=s.name, position=p) for p, s in enumerate(child.steps)]
            batch.append((record, steps))
            ids.append((index, record.run_id))
        try:
            store.create_runs(batch)
        except PlaitError:  # the run ends without them; a retry starts these items anyway
            return placed
        placed.update(ids)
    return placed


def _retry_item(
    execution: StepExecution,
    child: Workflow,
    params: tuple[Param, ...],
    index: int,
    item: object,
    earlier: RunRecord,
    selector: dict[str, str] | None,
) -> RunRecord:
    """The next attempt of an item's child run that failed: what succeeded in it stays."""
    if selector is not None:  # the remote child that failed is queued again
        return _launch(execution, child, params, index, item, {}, selector)
    run = execution.run
    parent = Parent(run=run, step=execution.step.name, item_index=index, item=render(item))
    inherit = execution.scope if execution.step.run is None else None
    return RunExecution(
        run.agent, child, params=params, parent=parent, scope=inherit, previous=earlier
    ).execute()


def _exit_code(record: RunRecord) -> int | None:
    """The exit code an item's failure ends with (its first failed step's)."""
    step = next((s for s in record.steps if s.status is StepStatus.FAILED), None)
    return 1 if step is None else step.exit_code


_STATUSES = list(RunStatus)  # a done item's status, as its index + 1 (0: not done)


class _Results:
    """What the fan-out keeps of each item once its child run has ended: its status, and its
    entry of the step's result and its outputs as JSON text, spooled to an unnamed file in
    the run's log folder (a fan-out of 100,000 items holds some 16 bytes an item, not its
    entry); the run id apart only where it is read again (a retry, the first failure)."""

    def __init__(self, folder: str) -> None:
        self._status = bytearray()
        self._at = array("Q")  # where the item's texts are in the spool
        self._sizes = array("L")  # bytes of its entry, then of its outputs (2 an item)
        self._ids: dict[int, str] = {}
        self._lock = threading.Lock()
        self._spool: int | None = None  # the descriptor of an unnamed file
        self._end = 0
        self._folder = folder

    def __len__(self) -> int:
        return len(self._status)

    def add(self) -> int:
        """A place for the next item taken: its index."""
        with self._lock:
            self._status.append(0)
            self._at.append(0)
            self._sizes.extend((0, 0))
            return len(self._status) - 1

    def done(self, index: int, record: RunRecord) -> None:
        result = json.dumps(child_result(record), ensure_ascii=False).encode()
        outputs = b"{}"
        if record.outputs:
            outputs = json.dumps(record.outputs, ensure_ascii=False).encode()
        with self._lock:
            fd = self._open()
            view = memoryview(result + outputs)
            while view:
                view = view[os.write(fd, view) :]
            self._at[index] = self._end
            self._sizes[2 * index], self._sizes[2 * index + 1] = len(result), len(outputs)
            self._end += len(result) + len(outputs)
            self._status[index] = _STATUSES.index(record.status) + 1
            if record.status in (RunStatus.SUCCEEDED, RunStatus.PARTIALLY_SUCCEEDED):
                self._ids.pop(index, None)
            else:
                self._ids[index] = record.run_id

    def ended(self, index: int) -> bool:
        return self._status[index] != 0

    def status(self, index: int) -> RunStatus | None:
        code = self._status[index]
        return _STATUSES[code - 1] if code else None

    def run_id(self, index: int) -> str | None:
        """The child run of an item that ended other than succeeded."""
        return self._ids.get(index)

    def texts(self, index: int) -> tuple[str, str]:
        """The item's entry of the result and its outputs, as JSON."""
        assert self._spool is not None
        size, outputs = self._sizes[2 * index], self._sizes[2 * index + 1]
        data = os.pread(self._spool, size + outputs, self._at[index])
        return data[:size].decode(), data[size:].decode()

    def _open(self) -> int:
        """The spool's descriptor (written with os.write, read with pread): a file without a
        name in the run's folder (or the temporary folder), gone when it is closed."""
        if self._spool is None:
            for folder in (self._folder, os.environ.get("TMPDIR") or "/tmp"):
                try:
                    self._spool = os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o600)
                    break
                except (OSError, AttributeError):  # (a filesystem without O_TMPFILE)
                    pass
            else:
                path = os.path.join(self._folder, f".results-{os.getpid()}-{id(self)}")
                self._spool = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
                os.unlink(path)
        return self._spool

    def close(self) -> None:
        if self._spool is not None:
            os.close(self._spool)
            self._spool = None


def _result_text(summary: str, entries: list[str], outputs: list[str]) -> JsonText:
    """``{"summary": …, "results": [ENTRY, …], "outputs": [OUTPUTS, …]}`` as ``json.dumps``
    writes it, knowing where each member and each element of the two lists is (the lists are
    emptied: their texts are in the result)."""
    pieces: list[str] = []
    members: dict[str, tuple[int, int]] = {}
    elements: dict[str, tuple[Sequence[int], Sequence[int]]] = {}
    at = 0

    def put(text: str) -> None:
        nonlocal at
        pieces.append(text)
        at += len(text)

    put('{"summary": ')
    members["summary"] = (at, at + len(summary))
    put(summary)
    for name, values in (("results", entries), ("outputs", outputs)):
        put(f', "{name}": ')
        start = at
        put("[")
        starts, ends = array("Q"), array("Q")
        for position, value in enumerate(values):
            if position:
                put(", ")
            starts.append(at)
            put(value)
            ends.append(at)
        put("]")
        members[name] = (start, at)
        elements[name] = (starts, ends)
        values.clear()
    put("}")
    text = "".join(pieces)
    pieces.clear()  # (before the copy JsonText makes of the text: one whole result at a time)
    return JsonText(text, members, elements)


def _fan_out_attempt(
    execution: StepExecution,
    items: dict[int, object],
    results: _Results,
    errors: dict[int, str],
    not_started: dict[int, str],
    source: _Items,
) -> Attempt:
    """The step's attempt: its result (summary, then an entry per item in item order), written
    piece by piece from the items' JSON texts, as a ``JsonText`` that knows where each entry
    is (a later step's path into it reads only what it names)."""
    entries: list[str] = []
    outputs: list[str] = []
    succeeded = failed = waiting = 0
    first_failure: str | None = None  # its child run
    for index in range(len(results)):
        status = results.status(index)
        if status is None:
            item = items.get(index)
            failed += index in errors
            never = {
                "name": None,
                "runId": not_started.get(index),
                "params": {},
                "status": "failed" if index in errors else "not_started",
                "outputs": {},
                "item": item,
                **({"error": errors[index]} if index in errors else {}),
            }
            entries.append(json.dumps(never, ensure_ascii=False))
            outputs.append("{}")
            continue
        entry, its_outputs = results.texts(index)
        entries.append(entry)
        outputs.append(its_outputs)
        if status in (RunStatus.SUCCEEDED, RunStatus.PARTIALLY_SUCCEEDED):
            succeeded += 1
        elif status is RunStatus.WAITING:
            waiting += 1
        else:
            failed += 1
            first_failure = first_failure or results.run_id(index)
    total = len(results)
    summary = {"total": total, "succeeded": succeeded, "failed": failed}
    if waiting:
        summary["waiting"] = waiting
    output = _result_text(json.dumps(summary), entries, outputs)
    del entries, outputs
    stopped = execution.run.stopping.is_set()
    problem = source.error
    if failed == 0 and not stopped and succeeded == total and problem is None:
        return Attempt(exit_code=0, output=output)
    if waiting and failed == 0 and not stopped and problem is None:
        return _waiting(output)
    if problem is not None:
        error = f"parallel items: {problem}"
        if failed:
            error += f"; {failed} of {total} items failed"
        return Attempt(exit_code=1, output=output, error=error)
    error = f"{failed} of {total} items failed"
    if first_failure is not None:
        record = execution.run.store.get_run(first_failure, children_limit=CHILDREN_SHOWN)
        error += f"; first: {_child_error(execution, record)}"
    elif errors:
        error += f"; first: {errors[min(errors)]}"
    return Attempt(exit_code=1, output=output, error=error, cancelled=stopped and failed == 0)
