"""Step logs copied into the store as they are written, for readers on other hosts.

With the PostgreSQL store a step may run on a worker far from the server that shows it. The
agent keeps writing each stream to its local file (the sink) and also hands every write to the
shipper, which keeps the pieces in memory and writes them to the store at least every half
second, and at once when the stream closes: a reader elsewhere sees a live tail half a second
behind, the whole log once the step has ended, and a kill -9 of the agent loses at most the
last half second. Each file is shipped up to a cap (``logs.maxShippedLogSize``), then a notice.
Every write carries the run's epoch: an agent that lost its run ships nothing more for it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from plait.proc.sink import cut_notice

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.runtime.run import RunExecution
    from plait.store.base import RunStore

__all__ = ["DEFAULT_SHIP_CAP", "SHIP_SECONDS", "LogShipper", "RunShipping"]

DEFAULT_SHIP_CAP = 50 * 1024 * 1024
SHIP_SECONDS = 0.5
_PIECE = 256 * 1024  # pieces are joined up to this size before they are written


@dataclass(slots=True)
class _File:
    run: RunExecution
    pieces: list[tuple[int, bytearray]] = field(default_factory=list)
    cut: bool = False
    closed: bool = False


class LogShipper:
    """The shipping of every step log of one agent (one thread, started at the first write)."""

    def __init__(self, store: RunStore, cap: int = DEFAULT_SHIP_CAP) -> None:
        self.store = store
        self.cap = cap
        self._files: dict[tuple[str, str], _File] = {}
        self._lock = threading.Lock()  # guards _files
        self._flushing = threading.Lock()  # one flush at a time: pieces reach the store in order
        self._thread: threading.Thread | None = None

    def for_run(self, run: RunExecution) -> RunShipping:
        return RunShipping(self, run)

    def add(self, run: RunExecution, path: str, start: int, data: bytes) -> None:
        with self._lock:
            file = self._files.get((run.run_id, path))
            if file is None:
                file = self._files[(run.run_id, path)] = _File(run)
            if file.cut:
                return
            if start + len(data) > self.cap:
                data = data[: max(0, self.cap - start)]
                file.cut = True
            if data:
                last = file.pieces[-1] if file.pieces else None
                if last is not None and last[0] + len(last[1]) == start and len(last[1]) < _PIECE:
                    last[1].extend(data)
                else:
                    file.pieces.append((start, bytearray(data)))
            if file.cut:
                file.pieces.append((max(start, 0) + len(data), bytearray(cut_notice(self.cap))))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="log-shipper", daemon=True)
                self._thread.start()

    def done(self, run: RunExecution, path: str) -> None:
        """The stream has closed: what is left of it goes to the store now."""
        with self._lock:
            file = self._files.get((run.run_id, path))
            if file is None:
                return
            file.closed = True
        self.flush()

    def flush(self) -> None:
        """Write every piece held to the store; pieces the store refused wait for the next
        turn (a store that cannot be reached), those of a run lost to another agent go."""
        with self._flushing:
            with self._lock:
                taken: dict[str, tuple[RunExecution, list[tuple[str, int, bytes]]]] = {}
                for (run_id, path), file in list(self._files.items()):
                    if file.pieces:
                        entry = taken.setdefault(run_id, (file.run, []))
                        entry[1].extend((path, start, bytes(data)) for start, data in file.pieces)
                        file.pieces = []
                    if file.closed:
                        del self._files[(run_id, path)]
            for run_id, (run, chunks) in taken.items():
                try:
                    self.store.ship_log(run_id, run.epoch, chunks)
                except Exception:  # the store is away: keep them for the next turn
                    self._give_back(run, chunks)

    def _give_back(self, run: RunExecution, chunks: list[tuple[str, int, bytes]]) -> None:
        with self._lock:
            for path, start, data in reversed(chunks):
                file = self._files.get((run.run_id, path))
                if file is None:
                    file = self._files[(run.run_id, path)] = _File(run, closed=True)
                file.pieces.insert(0, (start, bytearray(data)))

    def _loop(self) -> None:
        while True:
            time.sleep(SHIP_SECONDS)
            self.flush()


@dataclass(frozen=True, slots=True)
class RunShipping:
    """The shipping of one run's logs, as a sink sees it (``proc.sink.Shipping``)."""

    shipper: LogShipper
    run: RunExecution

    def ship(self, path: str, start: int, data: bytes) -> None:
        self.shipper.add(self.run, path, start, data)

    def done(self, path: str) -> None:
        self.shipper.done(self.run, path)
