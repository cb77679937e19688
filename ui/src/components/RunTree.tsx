// The runs below a run, as a tree expanded in place. Each level is the children of one run,
// read from the server a page at a time (failures first) when it is opened, so a fan-out of
// 100,000 items costs one page, at any depth.

import { createContext, useContext, useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { api, type ChildRef } from "../api";
import { StatusBadge, fmtDuration, fmtItem, isActive, span, statusInfo } from "../format";
import { ErrorBox, runUrl } from "./common";

const PAGE = 100;
const MOST_AT_ONCE = 1000; // the children endpoint's largest page

/** Who to tell when a run changed: the open level that lists it (its parent's). */
export class TreeEvents {
  private levels = new Map<string, Set<() => void>>();

  listen(parentRunId: string, reload: () => void): () => void {
    const mine = this.levels.get(parentRunId) ?? new Set();
    mine.add(reload);
    this.levels.set(parentRunId, mine);
    return () => mine.delete(reload);
  }

  /** A run changed (`parentRunId` null and no run: the stream reconnected, reload them all). */
  changed(e: { runId: string; parentRunId: string | null }) {
    const targets = !e.runId ? [...this.levels.values()] : [this.levels.get(e.parentRunId ?? "")];
    for (const set of targets) for (const reload of set ?? []) reload();
  }
}

const Events = createContext<TreeEvents | null>(null);
const Clock = createContext<number>(0);

export function RunTree({
  runId,
  total,
  events,
  now,
}: {
  runId: string;
  /** How many direct children the run has (its child counts). */
  total: number;
  events: TreeEvents;
  now: number;
}) {
  if (total === 0) return null;
  return (
    <Events.Provider value={events}>
      <Clock.Provider value={now}>
        <div className="card run-tree" data-testid="run-tree">
          <h3>Child runs</h3>
          <p className="muted small">
            Every run started by this one, at any depth: ▸ opens a run's own children in place (failures first, 100
            at a time).
          </p>
          <Level parentRunId={runId} depth={0} />
        </div>
      </Clock.Provider>
    </Events.Provider>
  );
}

interface LevelState {
  children: ChildRef[];
  total: number;
  counts: Record<string, number>;
}

/** The children of one run: counts by status, a page of rows, "show more". */
function Level({ parentRunId, depth }: { parentRunId: string; depth: number }) {
  const events = useContext(Events);
  const [state, setState] = useState<LevelState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const shown = useRef(PAGE);
  const seq = useRef(0);

  const load = async (count: number) => {
    const mine = ++seq.current;
    try {
      const pages = [];
      for (let offset = 0; offset < count; offset += MOST_AT_ONCE) {
        const limit = Math.min(MOST_AT_ONCE, count - offset);
        pages.push(api.children(parentRunId, { sort: "failures", limit, offset }));
      }
      const got = await Promise.all(pages);
      if (mine !== seq.current) return;
      const last = got[got.length - 1];
      setState({ children: got.flatMap((p) => p.children), total: last.total, counts: last.counts ?? {} });
      setError(null);
    } catch (e) {
      if (mine === seq.current) setError(e instanceof Error ? e.message : String(e));
    }
  };

  useEffect(() => {
    void load(shown.current);
    // A changed child reloads the level (at most every half second while children run).
    let timer: number | null = null;
    const stop = events?.listen(parentRunId, () => {
      if (timer === null)
        timer = window.setTimeout(() => {
          timer = null;
          void load(shown.current);
        }, 500);
    });
    return () => {
      stop?.();
      if (timer !== null) window.clearTimeout(timer);
    };
  }, [parentRunId]); // eslint-disable-line react-hooks/exhaustive-deps

  const more = async () => {
    setBusy(true);
    shown.current += PAGE;
    await load(shown.current);
    setBusy(false);
  };

  if (error && !state) return <ErrorBox error={error} />;
  if (!state) return <p className="muted small tree-loading">Loading…</p>;
  return (
    <div className="tree-level" data-level={parentRunId} style={{ marginLeft: depth ? 22 : 0 }}>
      <LevelCounts total={state.total} counts={state.counts} />
      <ul role={depth === 0 ? "tree" : "group"} aria-label={depth === 0 ? "child runs" : undefined}>
        {state.children.map((c) => (
          <Row key={c.runId} child={c} depth={depth} />
        ))}
      </ul>
      {state.children.length < state.total ? (
        <button className="small-btn tree-more" onClick={() => void more()} disabled={busy}>
          show more ({state.children.length.toLocaleString()} of {state.total.toLocaleString()})
        </button>
      ) : null}
    </div>
  );
}

function LevelCounts({ total, counts }: { total: number; counts: Record<string, number> }) {
  const parts = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return (
    <div className="tree-counts small" data-testid="tree-counts">
      <strong>
        {total.toLocaleString()} {total === 1 ? "run" : "runs"}
      </strong>
      {parts.map(([status, n]) => (
        <span key={status} className={`tree-count ${statusInfo(status).cls}`} data-status={status} title={statusInfo(status).label}>
          {statusInfo(status).icon} {n.toLocaleString()}
        </span>
      ))}
    </div>
  );
}

/** One child run: its status, how it was called, its timing; ▸ opens its own children. */
function Row({ child, depth }: { child: ChildRef; depth: number }) {
  const [open, setOpen] = useState(false);
  const now = useContext(Clock);
  const below = child.childCount ?? 0;
  const item = child.itemIndex !== null && child.itemIndex !== undefined;
  return (
    <li
      role="treeitem"
      aria-expanded={below ? open : undefined}
      aria-level={depth + 1}
      data-run-id={child.runId}
      data-status={child.status}
      className="tree-item"
    >
      <div className="tree-row">
        {below ? (
          <button
            className="tree-toggle"
            onClick={() => setOpen(!open)}
            aria-label={`${open ? "close" : "open"} the children of ${child.name}`}
            title={`${below.toLocaleString()} ${below === 1 ? "run" : "runs"} below`}
          >
            {open ? "▾" : "▸"}
          </button>
        ) : (
          <span className="tree-toggle none" />
        )}
        <StatusBadge status={child.status} title={child.error} small />
        <Link to={runUrl(child.runId)} className="tree-name">
          {child.name}
        </Link>
        <span className="muted small">
          {child.step}
          {item ? ` › item ${child.itemIndex}` : ""}
          {item && child.item !== null && child.item !== undefined ? ` (${fmtItem(child.item)})` : ""}
        </span>
        <span className="small">
          {fmtDuration(span(child.startedAt, child.finishedAt, now, isActive(child.status)))}
        </span>
        {below ? <span className="muted small">{below.toLocaleString()} below</span> : null}
        {child.error ? <span className="small step-error tree-error">{child.error}</span> : null}
      </div>
      {open ? <Level parentRunId={child.runId} depth={depth + 1} /> : null}
    </li>
  );
}
