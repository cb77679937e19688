import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { api } from "../api";
import { useLoader, useNow, useRunEvents, useThrottled } from "../hooks";
import { ErrorBox, Loading, runUrl } from "../components/common";
import { fmtProgress, progressFromCounts, progressOf } from "../components/Graph";
import { StatusBadge, fmtDuration, fmtItem, fmtTime, isActive, shortId, span } from "../format";
import { Breadcrumbs, concerns } from "./Run";

const STATUSES = ["", "queued", "running", "succeeded", "partially_succeeded", "failed", "cancelled", "skipped", "not_started"];
const SORTS: [string, string][] = [
  ["failures", "failures first"],
  ["index", "item # ↑"],
  ["-index", "item # ↓"],
  ["status", "status"],
  ["-duration", "longest first"],
  ["duration", "shortest first"],
  ["started", "started ↑"],
  ["-started", "started ↓"],
];

/** The runs of one parallel step: one row per item, filtered, sorted and paged on the server. */
export function ItemsPage() {
  const { runId = "", step = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const status = search.get("status") ?? "";
  const sort = search.get("sort") ?? "failures";
  const item = search.get("item") ?? "";
  const page = Math.max(0, Number(search.get("page") ?? 0) || 0);
  const [pageSize, setPageSize] = useState(50);
  const set = (k: string, v: string) => {
    const s = new URLSearchParams(search);
    if (v) s.set(k, v);
    else s.delete(k);
    if (k !== "page") s.delete("page");
    setSearch(s, { replace: true });
  };
  const run = useLoader(() => api.run(runId), [runId]);
  const kids = useLoader(
    () =>
      api.children(runId, {
        step,
        status: status || undefined,
        item: item.trim() || undefined,
        sort,
        limit: pageSize,
        offset: page * pageSize,
      }),
    [runId, step, status, item, sort, page, pageSize],
  );
  const refresh = useThrottled(() => {
    void run.reload();
    void kids.reload();
  }, 400);
  useRunEvents({ accept: concerns(runId), onEvent: refresh }, [runId]);
  const rows = kids.data?.children ?? [];
  const total = kids.data?.total ?? 0;
  const now = useNow(rows.some((r) => isActive(r.status)));
  const counts = kids.data?.counts;
  const progress = counts ? progressFromCounts(counts) : run.data ? progressOf(run.data.children, step, run.data.childCounts) : null;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return (
    <div>
      {run.data ? (
        <Breadcrumbs
          run={run.data}
          tail={
            <>
              <Link to={runUrl(runId)}>
                {run.data.name} <span className="mono muted">{shortId(runId)}</span>
              </Link>
              {" › "}
              <span className="current">{step} items</span>
            </>
          }
        />
      ) : null}
      <div className="page-head">
        <div>
          <h1>
            {step} <span className="muted">· parallel items</span>
          </h1>
          {progress ? (
            <div className="head-meta">
              <span className="progress-text" data-testid="progress">
                {fmtProgress(progress)}
              </span>
              <ProgressBar ok={progress.ok} failed={progress.failed} running={progress.running} total={progress.total} />
            </div>
          ) : null}
        </div>
      </div>
      {counts ? (
        <div className="summary" data-testid="item-counts">
          {Object.entries(counts).map(([s, n]) => (
              <button
                key={s}
                className={`chip ${status === s ? "active" : ""}`}
                data-status={s}
                onClick={() => set("status", status === s ? "" : s)}
                title={status === s ? "show every status" : `show only ${s} items`}
              >
                <StatusBadge status={s} small /> {n.toLocaleString()}
              </button>
            ))}
        </div>
      ) : null}
      <div className="toolbar">
        <input
          className="search narrow"
          type="search"
          placeholder="item contains…"
          value={item}
          onChange={(e) => set("item", e.target.value)}
          aria-label="filter by item"
        />
        <label>
          status{" "}
          <select value={status} onChange={(e) => set("status", e.target.value)} aria-label="filter by status">
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        <label>
          sort{" "}
          <select value={sort} onChange={(e) => set("sort", e.target.value)} aria-label="sort">
            {SORTS.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          per page{" "}
          <select value={pageSize} onChange={(e) => setPageSize(Number(e.target.value))}>
            {[25, 50, 100, 250].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <span className="muted small" data-testid="items-total">
          {total} {status ? `${status} ` : ""}items{item.trim() ? ` holding “${item.trim()}”` : ""}
        </span>
        <button onClick={() => set("page", "")} disabled={page <= 0}>
          « first
        </button>
        <button onClick={() => set("page", String(page - 1))} disabled={page <= 0}>
          ‹ prev
        </button>
        <span className="small nowrap" data-testid="page-of">
          page {page + 1} / {pages}
        </span>
        <button onClick={() => set("page", String(page + 1))} disabled={page + 1 >= pages}>
          next ›
        </button>
        <button onClick={() => set("page", String(pages - 1))} disabled={page + 1 >= pages}>
          last »
        </button>
      </div>
      <ErrorBox error={kids.error ?? run.error} />
      {!kids.data && !kids.error ? <Loading /> : null}
      {kids.data ? (
        <div className="card flush">
          <table className="table" data-testid="items-table">
            <thead>
              <tr>
                <th>#</th>
                <th>Item</th>
                <th>Status</th>
                <th>Started</th>
                <th>Duration</th>
                <th>Run</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((c) => (
                <tr key={c.runId} data-item={c.itemIndex ?? ""}>
                  <td className="mono">{c.itemIndex ?? "—"}</td>
                  <td>
                    <code className="output">{fmtItem(c.item)}</code>
                  </td>
                  <td>
                    <StatusBadge status={c.status} title={c.error} />
                    {c.attempt && c.attempt > 1 ? (
                      <span className="tag" data-testid="item-attempt" title="the item was retried">
                        attempt {c.attempt}
                      </span>
                    ) : null}
                    {c.error ? <div className="small step-error">{c.error}</div> : null}
                  </td>
                  <td className="small">{fmtTime(c.startedAt)}</td>
                  <td className={c.status === "running" ? "elapsed" : undefined}>
                    {fmtDuration(span(c.startedAt, c.finishedAt, now, isActive(c.status)))}
                  </td>
                  <td>
                    <Link to={runUrl(c.runId)} className="mono">
                      {c.name} {shortId(c.runId)} →
                    </Link>
                  </td>
                </tr>
              ))}
              {rows.length === 0 ? (
                <tr>
                  <td colSpan={6} className="muted">
                    No items{status ? ` with status ${status}` : ""}
                    {item.trim() ? ` holding “${item.trim()}”` : ""}.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

function ProgressBar({ ok, failed, running, total }: { ok: number; failed: number; running: number; total: number }) {
  const pct = (n: number) => `${(n / Math.max(total, 1)) * 100}%`;
  return (
    <div className="pbar" title={`${ok} succeeded, ${failed} failed, ${running} running of ${total}`}>
      <div className="s-ok" style={{ width: pct(ok) }} />
      <div className="s-fail" style={{ width: pct(failed) }} />
      <div className="s-running" style={{ width: pct(running) }} />
    </div>
  );
}

