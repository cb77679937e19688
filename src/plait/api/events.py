"""Server-Sent Events: live run status (``event: run``) and live step logs (``event: log``).

One watcher per server polls the store every 0.3 s, and only when the database changed
(the store's change mark); it compares each active or recently finished run with what it saw
last and hands every run that changed to the streams that want it. A comment line is sent
every 15 s so that proxies keep the connection; a stream ends when its client goes away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from plait.api.errors import COMMON_ERRORS, errors
from plait.api.logs import DEFAULT_LIMIT, LogSource, read_range
from plait.api.runs import RunId, step_log_path
from plait.api.services import Services, services_of
from plait.errors import NotFoundError
from plait.model import StepStatus
from plait.store.views import RunSnapshot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.store.base import RunBrowser

__all__ = ["PING_SECONDS", "POLL_SECONDS", "RunWatcher", "router", "sse"]

POLL_SECONDS = 0.3
PING_SECONDS = 15.0
_SLACK_SECONDS = 5.0  # a run finished this long before the last poll is still compared
_QUEUE_SIZE = 10_000
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

router = APIRouter(prefix="/api/v1", tags=["events"], responses=COMMON_ERRORS)
_log = logging.getLogger("plait.api")


def sse(event: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event: its name and its data as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class _Subscriber:
    def __init__(self, run_ids: set[str] | None) -> None:
        self.run_ids = run_ids
        self.queue: asyncio.Queue[RunSnapshot] = asyncio.Queue(_QUEUE_SIZE)

    def offer(self, snapshot: RunSnapshot) -> None:
        if self.run_ids is not None:
            if snapshot.run_id not in self.run_ids and snapshot.parent_run_id not in self.run_ids:
                return
            self.run_ids.add(snapshot.run_id)
        if not self.queue.full():
            self.queue.put_nowait(snapshot)


class RunWatcher:
    """Polls the store while somebody listens, and fans each changed run out to listeners."""

    def __init__(self, browse: RunBrowser) -> None:
        self._browse = browse
        self._subscribers: set[_Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[str, RunSnapshot] = {}
        self._version: int | None = None
        self._since = 0.0

    def subscribe(self, run_ids: set[str] | None) -> _Subscriber:
        subscriber = _Subscriber(run_ids)
        self._subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())
        return subscriber

    def unsubscribe(self, subscriber: _Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def _watch(self) -> None:
        await asyncio.to_thread(self._poll, True)
        while self._subscribers:
            await asyncio.sleep(POLL_SECONDS)
            try:
                changed = await asyncio.to_thread(self._poll, False)
            except Exception:  # a locked or busy database: try again at the next tick
                _log.exception("event=api.watch_failed")
                continue
            for snapshot in changed:
                for subscriber in list(self._subscribers):
                    subscriber.offer(snapshot)

    def _poll(self, baseline: bool) -> list[RunSnapshot]:
        version = self._browse.change_mark()
        if version == self._version and not baseline:
            return []
        self._version = version
        now = self._browse.now()
        current = self._browse.changes_since(self._since if not baseline else now - _SLACK_SECONDS)
        self._since = now - _SLACK_SECONDS
        changed = [s for run_id, s in current.items() if self._seen.get(run_id) != s]
        self._seen = current
        return [] if baseline else changed


@router.get(
    "/events",
    summary="Live run status as Server-Sent Events (`event: run`)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(404)},
)
async def events(
    request: Request,
    run_id: Annotated[
        str | None,
        Query(alias="runId", description="only this run and the runs below it"),
    ] = None,
) -> StreamingResponse:
    services = services_of(request)
    first: RunSnapshot | None = None
    run_ids: set[str] | None = None
    if run_id is not None:
        first = await asyncio.to_thread(services.browse.snapshot, run_id)
        if first is None:
            raise NotFoundError(f"no run with id {run_id}")
        run_ids = await asyncio.to_thread(services.browse.descendants, run_id)
    watcher: RunWatcher = request.app.state.watcher
    subscriber = watcher.subscribe(run_ids)
    return StreamingResponse(
        _run_events(request, watcher, subscriber, first),
        media_type="text/event-stream",
        headers=_HEADERS,
    )


async def _run_events(
    request: Request, watcher: RunWatcher, subscriber: _Subscriber, first: RunSnapshot | None
) -> AsyncIterator[str]:
    try:
        yield "retry: 2000\n\n"
        if first is not None:
            yield sse("run", first.to_json())
        pinged = time.monotonic()
        while True:
            try:
                snapshot = await asyncio.wait_for(subscriber.queue.get(), timeout=1.0)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                if time.monotonic() - pinged >= PING_SECONDS:
                    pinged = time.monotonic()
                    yield ": ping\n\n"
                continue
            yield sse("run", snapshot.to_json())
    finally:
        watcher.unsubscribe(subscriber)


@router.get(
    "/runs/{runId}/steps/{step}/log/stream",
    summary="A step's log as it grows (`event: log`), then `event: end`",
    tags=["runs"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **errors(400, 404)},
)
async def log_stream(
    request: Request,
    run_id: RunId,
    step: str,
    stream: Literal["stdout", "stderr"] = "stdout",
    attempt: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    offset: Annotated[
        int, Query(ge=-(2**62), le=2**62, description="start here; negative: from the end")
    ] = 0,
) -> StreamingResponse:
    services = services_of(request)
    await asyncio.to_thread(step_log_path, services, run_id, step, stream, attempt)
    return StreamingResponse(
        _log_events(request, services, run_id, step, stream, attempt, offset),
        media_type="text/event-stream",
        headers=_HEADERS,
    )


async def _log_events(
    request: Request,
    services: Services,
    run_id: str,
    step: str,
    stream: str,
    attempt: int | None,
    offset: int,
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    path: LogSource | None = None
    position = offset
    pinged = time.monotonic()
    while not await request.is_disconnected():
        if path is None:
            _, _, path = await asyncio.to_thread(
                step_log_path, services, run_id, step, stream, attempt
            )
        # the status first: bytes written before the step ended are read below, then we end
        done, status = await asyncio.to_thread(_step_done, services, run_id, step)
        if path is not None:
            window = await asyncio.to_thread(read_range, path, position, DEFAULT_LIMIT)
            position = window.next_offset if window.size else position
            if window.content:
                yield sse("log", window.to_json())
                continue
        if done:
            # a child run's small log moves into its root's pack when the run ends: read on
            # there (the same bytes) if it did
            _, _, fresh = await asyncio.to_thread(
                step_log_path, services, run_id, step, stream, attempt
            )
            if fresh is not None and fresh != path:
                path = fresh
                continue
            yield sse("end", {"status": status, "offset": max(position, 0)})
            return
        if time.monotonic() - pinged >= PING_SECONDS:
            pinged = time.monotonic()
            yield ": ping\n\n"
        await asyncio.sleep(POLL_SECONDS)


def _step_done(services: Services, run_id: str, step: str) -> tuple[bool, str | None]:
    """Whether the step will write no more (it ended, or its run ended without it)."""
    snapshot = services.browse.snapshot(run_id)
    if snapshot is None:
        return True, None
    for name, status, _, _ in snapshot.steps:
        if name == step:
            run_over = snapshot.status not in ("queued", "running")
            return StepStatus(status).is_final or run_over, status
    return True, None
