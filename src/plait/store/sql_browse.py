"""The read-only views of a SQL store (``RunBrowser``): pages of runs, trees of child runs,
counts, leases, live status — the same SQL for every backend; each backend gives its own
"something changed" mark (``change_mark``) and the SQL of "now".

They share the store's connection and lock; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plait.model import RunRecord, RunStatus, iso_time
from plait.store import queries as q
from plait.store.sql import SQLStore, _run_from_row, run_filter
from plait.store.sql_metrics import SQLMetrics
from plait.store.views import ChildPage, Lease, RunNode, RunPage, RunSnapshot

__all__ = ["SQLBrowse"]

_TREE = """
WITH RECURSIVE tree(id, level) AS (
    SELECT id, 0 FROM runs WHERE id = ?
    UNION ALL
    SELECT runs.id, tree.level + 1 FROM runs JOIN tree ON runs.parent_run_id = tree.id
)
SELECT runs.id, runs.name, runs.status, runs.parent_run_id, runs.parent_step, runs.item_index,
       runs.item, runs.started_at, runs.finished_at, runs.error
FROM runs JOIN tree ON runs.id = tree.id
ORDER BY tree.level, runs.created_at, runs.item_index
"""

_ANCESTORS = """
WITH RECURSIVE up(id, parent, level) AS (
    SELECT id, parent_run_id, 0 FROM runs WHERE id = ?
    UNION ALL
    SELECT runs.id, runs.parent_run_id, up.level + 1 FROM runs JOIN up ON runs.id = up.parent
)
SELECT runs.id, runs.name, runs.parent_step, runs.item_index, runs.item
FROM runs JOIN up ON runs.id = up.id
WHERE up.level > 0
ORDER BY up.level DESC
"""

_CHILD_COLUMNS = """
SELECT id, name, status, parent_step, item_index, item, started_at, finished_at, error, attempt
FROM runs"""


def _child_sorts(now: str, tiebreak: str) -> dict[str, str]:
    """The ORDER BY of each child sort; ``now`` is the backend's SQL for the time now,
    ``tiebreak`` what orders children of one item (its attempts) the way the index of
    children is ordered, so that a page deep into 100,000 items is read off the index."""
    duration = f"(COALESCE(finished_at, {now}) - started_at)"
    return {
        "index": f"item_index, {tiebreak}",
        "-index": f"item_index DESC, {tiebreak} DESC",
        "name": "name, item_index",
        "status": "status, item_index",
        "started": "started_at, item_index",
        "-started": "started_at DESC, item_index",
        "duration": f"{duration}, item_index",
        "-duration": f"{duration} DESC, item_index",
    }


_DEEPEST = 64  # a bound on the walk down a tree (nesting is bounded far below this)
_FIRST_FAILED_STEP = (
    "SELECT name, error FROM steps WHERE run_id = ? AND status = 'failed' ORDER BY position LIMIT 1"
)
_FIRST_FAILED_CHILD = (
    "SELECT id, name FROM runs WHERE parent_run_id = ? AND parent_step = ? "
    "AND status IN ('failed', 'cancelled') ORDER BY item_index, created_at LIMIT 1"
)
_CHANGED = """
SELECT id, name, status, parent_run_id, root_run_id, parent_step, item_index, started_at,
       finished_at, error, attempt
FROM runs"""
_CHANGED_WHERE = " WHERE status IN ('queued', 'running') OR finished_at >= ? OR created_at >= ?"


class SQLBrowse(SQLMetrics):
    """Read-only views of a SQL store (the metrics' queries in ``SQLMetrics``)."""

    NOW_SQL = "0"  # the backend's SQL of the time now, in epoch seconds
    TIEBREAK = "id"  # (run ids grow with time)

    def __init__(self, store: SQLStore) -> None:
        self._store = store
        self._sorts = _child_sorts(self.NOW_SQL, self.TIEBREAK)

    def _all(self, sql: str, args: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        return self._store._all(sql, tuple(args))

    def now(self) -> float:
        """The store's time now, in epoch seconds."""
        return self._store.now()

    # ----------------------------------------------------------------- runs

    def list_runs(
        self,
        *,
        name: str | None = None,
        statuses: Iterable[RunStatus] = (),
        since: float | None = None,
        until: float | None = None,
        roots_only: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> RunPage:
        """A page of runs, newest first, without their steps, how many match in all, and how
        many of each status match the other filters (the dashboard's status chips)."""
        wanted = [str(s) for s in statuses]
        where, args = run_filter(
            name=name, statuses=statuses, since=since, until=until, roots_only=roots_only
        )
        order = " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        rows = self._all(q.SELECT_RUN + where + order, (*args, limit, offset))
        unfiltered, other_args = run_filter(
            name=name, statuses=(), since=since, until=until, roots_only=roots_only
        )
        counts = {
            str(r[0]): int(r[1])
            for r in self._all(
                "SELECT status, count(*) FROM runs" + unfiltered + " GROUP BY 1", other_args
            )
        }
        total = sum(n for s, n in counts.items() if not wanted or s in wanted)
        return RunPage([_run_from_row(r) for r in rows], total, counts)

    def last_run(self, name: str) -> RunRecord | None:
        """The newest run of a workflow (a child run counts), without its steps."""
        rows = self._all(
            q.SELECT_RUN + " WHERE name = ? ORDER BY created_at DESC, id DESC LIMIT 1", (name,)
        )
        return _run_from_row(rows[0]) if rows else None

    def tree(self, run_id: str) -> RunNode | None:
        """A run and its child runs at any depth (one recursive query), or None."""
        nodes: dict[str, RunNode] = {}
        root: RunNode | None = None
        for r in self._all(_TREE, (run_id,)):
            node = RunNode(
                run_id=r[0],
                name=r[1],
                status=r[2],
                parent_run_id=r[3],
                step=r[4],
                item_index=r[5],
                item=r[6],
                started_at=r[7],
                finished_at=r[8],
                error=r[9],
            )
            nodes[node.run_id] = node
            parent = nodes.get(node.parent_run_id or "")
            if root is None:
                root = node
            elif parent is not None:
                parent.children.append(node)
        return root

    def descendants(self, run_id: str) -> set[str]:
        """The ids of a run and of every run below it."""
        return {r[0] for r in self._all(_TREE, (run_id,))}

    def first_failure(self, run_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = None
        current, name, depth = run_id, None, 0
        while depth <= _DEEPEST:
            step = self._all(_FIRST_FAILED_STEP, (current,))
            if not step:
                break
            if name is None:
                name = self._all("SELECT name FROM runs WHERE id = ?", (current,))[0][0]
            found = {
                "runId": current, "name": name, "step": step[0][0], "error": step[0][1],
                "depth": depth,
            }  # fmt: skip
            child = self._all(_FIRST_FAILED_CHILD, (current, step[0][0]))
            if not child:
                break
            current, name, depth = child[0][0], child[0][1], depth + 1
        return found

    def ancestors(self, run_id: str) -> list[dict[str, Any]]:
        """The runs above a run, root first: how each was called (step, item)."""
        return [
            {"runId": r[0], "name": r[1], "step": r[2], "itemIndex": r[3], "item": r[4]}
            for r in self._all(_ANCESTORS, (run_id,))
        ]

    def children_page(
        self,
        run_id: str,
        *,
        step: str | None = None,
        statuses: Iterable[RunStatus] = (),
        sort: str = "index",
        limit: int = 100,
        offset: int = 0,
    ) -> ChildPage:
        """A page of the direct child runs of a run, with counts per status (before the
        status filter, so a progress bar can use them)."""
        clauses = ["parent_run_id = ?"]
        args: list[object] = [run_id]
        if step is not None:
            clauses.append("parent_step = ?")
            args.append(step)
        where = " WHERE " + " AND ".join(clauses)
        counts = {
            str(r[0]): int(r[1])
            for r in self._all("SELECT status, count(*) FROM runs" + where + " GROUP BY 1", args)
        }
        wanted = [str(s) for s in statuses]
        if wanted:
            where += f" AND status IN ({','.join('?' * len(wanted))})"
            args.extend(wanted)
        order = self._sorts.get(sort, self._sorts["index"])
        rows = self._all(
            f"{_CHILD_COLUMNS}{where} ORDER BY {order} LIMIT ? OFFSET ?", (*args, limit, offset)
        )
        if wanted:
            total = sum(counts.get(status, 0) for status in set(wanted))
        else:
            total = sum(counts.values())
        return ChildPage([_child_json(r) for r in rows], int(total), counts)

    # ----------------------------------------------------------------- counts

    def count_by_status(self) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in self._all(_COUNT_BY_STATUS)}

    def waiting_by_queue(self) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in self._all(_WAITING_BY_QUEUE)}

    def lease(self, name: str) -> Lease | None:
        rows = self._all(
            "SELECT name, owner, epoch, expires_at FROM leases WHERE name = ?", (name,)
        )
        if not rows:
            return None
        r = rows[0]
        return Lease(str(r[0]), str(r[1]), int(r[2]), float(r[3]))

    # ----------------------------------------------------------------- live status

    def change_mark(self) -> int:
        """A number that differs after any commit to the store, by any process."""
        raise NotImplementedError

    def changes_since(self, moment: float) -> dict[str, RunSnapshot]:
        """Every active run, and every run created or finished since ``moment``."""
        return self._snapshots(self._all(_CHANGED + _CHANGED_WHERE, (moment, moment)))

    def snapshot(self, run_id: str) -> RunSnapshot | None:
        """The live-status view of one run, or None."""
        found = self._snapshots(self._all(_CHANGED + " WHERE id = ?", (run_id,)))
        return found.get(run_id)

    def _snapshots(self, rows: list[tuple[Any, ...]]) -> dict[str, RunSnapshot]:
        steps: dict[str, list[tuple[str, str, float | None, float | None]]] = {}
        ids = [r[0] for r in rows]
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            sql = (
                "SELECT run_id, name, status, started_at, finished_at FROM steps "
                f"WHERE run_id IN ({','.join('?' * len(part))}) ORDER BY run_id, position"
            )
            for s in self._all(sql, part):
                steps.setdefault(s[0], []).append((s[1], s[2], s[3], s[4]))
        return {
            r[0]: RunSnapshot(
                run_id=r[0],
                name=r[1],
                status=r[2],
                parent_run_id=r[3],
                root_run_id=r[4],
                parent_step=r[5],
                item_index=r[6],
                started_at=r[7],
                finished_at=r[8],
                error=r[9],
                attempt=int(r[10]),
                steps=tuple(steps.get(r[0], ())),
            )
            for r in rows
        }

    def close(self) -> None:
        pass


_COUNT_BY_STATUS = "SELECT status, count(*) FROM runs GROUP BY status"

_WAITING_BY_QUEUE = """
SELECT COALESCE(queue, name), count(*) FROM runs
WHERE status = 'queued' AND parent_run_id IS NULL GROUP BY 1
"""


def _child_json(r: tuple[Any, ...]) -> dict[str, Any]:
    started, finished = r[6], r[7]
    return {
        "runId": r[0],
        "name": r[1],
        "status": r[2],
        "step": r[3],
        "itemIndex": r[4],
        "item": r[5],
        "startedAt": iso_time(started),
        "finishedAt": iso_time(finished),
        "durationSec": None if started is None or finished is None else finished - started,
        "error": r[8],
        "attempt": r[9],
    }
