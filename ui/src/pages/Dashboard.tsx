import { useState } from "react";
import { api } from "../api";
import { useLoader, useNow, useRunEvents, useThrottled } from "../hooks";
import { ErrorBox, Loading, RunsTable } from "../components/common";
import { StatusBadge, isActive } from "../format";

const PAGE_SIZE = 50;
const PERIODS: Record<string, number> = { "last hour": 3600, "last 24 hours": 86400, "last 7 days": 7 * 86400 };

/** Recent runs, live, filtered by workflow, status and time on the server: the status chips
 * count every run the other filters match, not only the page shown. */
export function Dashboard() {
  const [roots, setRoots] = useState(true);
  const [status, setStatus] = useState("");
  const [workflow, setWorkflow] = useState("");
  const [period, setPeriod] = useState("");
  const [page, setPage] = useState(0);
  const since = period ? new Date(Date.now() - PERIODS[period] * 1000).toISOString() : undefined;
  const { data, error, reload } = useLoader(
    () =>
      api.runs({
        limit: PAGE_SIZE,
        offset: page * PAGE_SIZE,
        roots: roots ? true : undefined,
        status: status || undefined,
        workflow: workflow.trim() || undefined,
        from: since,
      }),
    [roots, status, workflow, period, page],
  );
  const refresh = useThrottled(() => void reload(), 500);
  const live = useRunEvents({ onEvent: refresh }, []);
  const runs = data?.runs ?? [];
  const now = useNow(runs.some((r) => isActive(r.status)));
  const counts = data?.counts ?? {};
  const total = data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const pick = (apply: () => void) => {
    apply();
    setPage(0);
  };
  return (
    <div>
      <div className="page-head">
        <h1>Recent runs</h1>
        <span className={`live ${live ? "on" : ""}`} title="live updates over Server-Sent Events">
          {live ? "● live" : "○ connecting"}
        </span>
      </div>
      <div className="summary" data-testid="status-chips">
        {Object.entries(counts).map(([s, n]) => (
          <button
            key={s}
            className={`chip ${status === s ? "active" : ""}`}
            data-status={s}
            onClick={() => pick(() => setStatus(status === s ? "" : s))}
          >
            <StatusBadge status={s} small /> {n}
          </button>
        ))}
      </div>
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={!roots} onChange={(e) => pick(() => setRoots(!e.target.checked))} /> include
          child runs
        </label>
        <input
          className="search"
          type="search"
          placeholder="workflow name"
          value={workflow}
          onChange={(e) => pick(() => setWorkflow(e.target.value))}
          aria-label="workflow"
        />
        <label>
          status{" "}
          <select value={status} onChange={(e) => pick(() => setStatus(e.target.value))}>
            <option value="">any</option>
            {["queued", "running", "waiting", "succeeded", "partially_succeeded", "failed", "cancelled", "skipped"].map(
              (s) => (
                <option key={s}>{s}</option>
              ),
            )}
          </select>
        </label>
        <label>
          started{" "}
          <select value={period} onChange={(e) => pick(() => setPeriod(e.target.value))} aria-label="started">
            <option value="">any time</option>
            {Object.keys(PERIODS).map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        {data ? (
          <span className="muted small" data-testid="runs-total">
            {total} runs in all
          </span>
        ) : null}
        {pages > 1 ? (
          <span className="pager">
            <button onClick={() => setPage(page - 1)} disabled={page <= 0} aria-label="newer runs">
              ‹
            </button>
            <span className="small nowrap">
              page {page + 1} / {pages}
            </span>
            <button onClick={() => setPage(page + 1)} disabled={page + 1 >= pages} aria-label="older runs">
              ›
            </button>
          </span>
        ) : null}
      </div>
      <ErrorBox error={error} />
      {data ? (
        <div className="card flush">
          <RunsTable runs={runs} now={now} />
        </div>
      ) : error ? null : (
        <Loading />
      )}
    </div>
  );
}
