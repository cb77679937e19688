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
from plait.store.views import (
    FAILURES_FIRST,
    TREE_MAX_NODES,
    TREE_PER_RUN,
    ChildPage,
    HistoryPage,
    HistoryRun,
    Lease,
    RunNode,
    RunPage,
    RunSnapshot,
    RunTree,
)

__all__ = ["SQLBrowse"]

_DESCENDANTS = """
WITH RECURSIVE tree(id) AS (
    SELECT id FROM runs WHERE id = ?
    UNION ALL
    SELECT runs.id FROM runs JOIN tree ON runs.parent_run_id = tree.id
)
SELECT id FROM tree
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

# A child run, its parent and how many children it has itself (an index read each).
_CHILD_COLUMNS = """
SELECT id, name, status, parent_step, item_index, item, started_at, finished_at, error, attempt,
       parent_run_id,
       (SELECT count(*) FROM runs AS below WHERE below.parent_run_id = runs.id)
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
        # within one status (the `failures` sort reads the statuses one after the other)
        "failures": f"parent_step, item_index, {tiebreak}",
    }


# A page of a workflow's runs and every step of each, in one query (the runs by the index of
# runs by name, their steps by the steps' primary key).
_HISTORY = """
WITH page AS (
    SELECT id, status, created_at, started_at, finished_at, attempt, parent_run_id
    FROM runs WHERE name = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?
)
SELECT page.id, page.status, page.created_at, page.started_at, page.finished_at, page.attempt,
       page.parent_run_id, steps.name, steps.status, steps.tolerated
FROM page LEFT JOIN steps ON steps.run_id = page.id
ORDER BY page.created_at DESC, page.id DESC, steps.position
"""

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

    def history(self, name: str, *, limit: int = 50, offset: int = 0) -> HistoryPage:
        """A page of a workflow's runs (child runs of it too), newest first, each with the
        status of every step, and how many runs it has in all."""
        runs: dict[str, HistoryRun] = {}
        for r in self._all(_HISTORY, (name, limit, offset)):
            run = runs.get(r[0])
            if run is None:
                run = runs[r[0]] = HistoryRun(r[0], r[1], r[2], r[3], r[4], int(r[5]), r[6])
            if r[7] is not None:
                run.steps[r[7]] = r[8]
                if r[9]:
                    run.tolerated.append(r[7])
        (total,) = self._all("SELECT count(*) FROM runs WHERE name = ?", (name,))[0]
        return HistoryPage(list(runs.values()), int(total))

    def tree(
        self, run_id: str, *, per_run: int = TREE_PER_RUN, max_nodes: int = TREE_MAX_NODES
    ) -> RunTree | None:
        """A run and the runs below it, level by level: at most ``per_run`` children of each
        run (failures first) and ``max_nodes`` runs in all; None when there is no such run."""
        rows = self._all(_CHILD_COLUMNS + " WHERE id = ?", (run_id,))
        if not rows:
            return None
        root = _node(rows[0])
        nodes, truncated, level = 1, False, [root]
        for _ in range(_DEEPEST):
            room = max_nodes - nodes
            listed = self._children_of(level, min(per_run, max(room, 0)), room)
            below: list[RunNode] = []
            for node in level:
                node.children = listed.get(node.run_id, [])
                truncated = truncated or len(node.children) < node.child_count
                below += node.children
            nodes += len(below)
            if not below:
                break
            level = below
        else:
            truncated = truncated or any(node.child_count for node in level)
        return RunTree(root, nodes, truncated)

    def _children_of(
        self, level: list[RunNode], per_run: int, room: int
    ) -> dict[str, list[RunNode]]:
        """The children to list of each run of a level, in its order, ``room`` in all: all of
        those of a run with at most ``per_run`` (one query for them all), else a page of its
        failures first."""
        few: list[str] = []
        many: list[tuple[str, int]] = []
        for node in level:
            take = min(node.child_count, per_run, room)
            if take <= 0:
                continue
            if take == node.child_count:
                few.append(node.run_id)
            else:
                many.append((node.run_id, take))
            room -= take
        listed: dict[str, list[RunNode]] = {}
        for chunk in range(0, len(few), 500):
            part = few[chunk : chunk + 500]
            sql = f"{_CHILD_COLUMNS} WHERE parent_run_id IN ({','.join('?' * len(part))})"
            for row in self._all(sql, part):
                listed.setdefault(row[10], []).append(_node(row))
        for kids in listed.values():
            kids.sort(key=_failures_first_key)
        for parent, take in many:
            where, args = " WHERE parent_run_id = ?", list[object]([parent])
            counts = self._status_counts(where, args)
            rows = self._failures_first(where, args, counts, (), take, 0)
            listed[parent] = [_node(row) for row in rows]
        return listed

    def descendants(self, run_id: str) -> set[str]:
        """The ids of a run and of every run below it."""
        return {r[0] for r in self._all(_DESCENDANTS, (run_id,))}

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
        item: str | None = None,
    ) -> ChildPage:
        """A page of the direct child runs of a run, with counts per status (before the
        status filter, so a progress bar can use them; after the item filter)."""
        clauses = ["parent_run_id = ?"]
        args: list[object] = [run_id]
        if step is not None:
            clauses.append("parent_step = ?")
            args.append(step)
        if item:
            clauses.append(f"item {self.LIKE} ? ESCAPE '\\'")
            args.append("%" + _escape_like(item) + "%")
        where = " WHERE " + " AND ".join(clauses)
        counts = self._status_counts(where, args)
        wanted = [str(s) for s in statuses]
        if sort == "failures":
            rows = self._failures_first(where, args, counts, wanted, limit, offset)
        else:
            if wanted:
                where += f" AND status IN ({','.join('?' * len(wanted))})"
                args.extend(wanted)
            order = self._sorts.get(sort, self._sorts["index"])
            rows = self._all(
                f"{_CHILD_COLUMNS}{where} ORDER BY {order} LIMIT ? OFFSET ?",
                (*args, limit, offset),
            )
        if wanted:
            total = sum(counts.get(status, 0) for status in set(wanted))
        else:
            total = sum(counts.values())
        return ChildPage([_child_json(r) for r in rows], int(total), counts)

    # how a text is matched without regard to case (SQLite's LIKE is so for ASCII)
    LIKE = "LIKE"

    def _status_counts(self, where: str, args: list[object]) -> dict[str, int]:
        """Children by status, in the order of ``FAILURES_FIRST``."""
        sql = "SELECT status, count(*) FROM runs" + where + " GROUP BY 1"
        counts = {str(r[0]): int(r[1]) for r in self._all(sql, args)}
        return {s: counts[s] for s in sorted(counts, key=_status_rank)}

    def _failures_first(
        self,
        where: str,
        args: list[object],
        counts: dict[str, int],
        wanted: Iterable[str],
        limit: int,
        offset: int,
    ) -> list[tuple[Any, ...]]:
        """A page of children in the order of ``FAILURES_FIRST``: the counts say which
        statuses the page spans, and each of those is one index range read (a sort of every
        child of a 100,000-item fan-out by a computed rank took ten times as long)."""
        keep = set(wanted)
        rows: list[tuple[Any, ...]] = []
        skip, room = offset, limit
        for status in sorted(counts, key=_status_rank):
            if (keep and status not in keep) or room <= 0:
                continue
            if skip >= counts[status]:
                skip -= counts[status]
                continue
            sql = f"{_CHILD_COLUMNS}{where} AND status = ? ORDER BY {self._sorts['failures']}"
            rows += self._all(sql + " LIMIT ? OFFSET ?", (*args, status, room, skip))
            room, skip = limit - len(rows), 0
        return rows

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


def _status_rank(status: str) -> int:
    return FAILURES_FIRST.index(status) if status in FAILURES_FIRST else len(FAILURES_FIRST)


def _failures_first_key(node: RunNode) -> tuple[int, str, int, str]:
    index = -1 if node.item_index is None else node.item_index
    return (_status_rank(node.status), node.step or "", index, node.run_id)


def _node(r: tuple[Any, ...]) -> RunNode:
    """A node of a tree from a row of ``_CHILD_COLUMNS``."""
    return RunNode(
        run_id=r[0],
        name=r[1],
        status=r[2],
        parent_run_id=r[10],
        step=r[3],
        item_index=r[4],
        item=r[5],
        started_at=r[6],
        finished_at=r[7],
        error=r[8],
        child_count=int(r[11]),
    )


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
        "childCount": int(r[11]),
    }


def _escape_like(text: str) -> str:
    """``text`` matched as it is by LIKE: its wildcards and the escape character escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
