import { useState } from "react";
import { api } from "../api";
import { useLoader, useNow, useRunEvents, useThrottled } from "../hooks";
import { ErrorBox, Loading, RunsTable } from "../components/common";
import { StatusBadge, isActive } from "../format";

/** Recent runs, live: the list reloads when the server reports a run changing state. */
export function Dashboard() {
  const [roots, setRoots] = useState(true);
  const [status, setStatus] = useState("");
  const { data, error, reload } = useLoader(
    () => api.runs({ limit: 50, roots: roots ? true : undefined, status: status || undefined }),
    [roots, status],
  );
  const refresh = useThrottled(() => void reload(), 500);
  const live = useRunEvents({ onEvent: refresh }, []);
  const runs = data?.runs ?? [];
  const now = useNow(runs.some((r) => isActive(r.status)));
  const counts: Record<string, number> = {};
  for (const r of runs) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return (
    <div>
      <div className="page-head">
        <h1>Recent runs</h1>
        <span className={`live ${live ? "on" : ""}`} title="live updates over Server-Sent Events">
          {live ? "● live" : "○ connecting"}
        </span>
      </div>
      <div className="summary">
        {Object.entries(counts).map(([s, n]) => (
          <button key={s} className={`chip ${status === s ? "active" : ""}`} onClick={() => setStatus(status === s ? "" : s)}>
            <StatusBadge status={s} small /> {n}
          </button>
        ))}
      </div>
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={!roots} onChange={(e) => setRoots(!e.target.checked)} /> include child runs
        </label>
        <label>
          status{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            {["queued", "running", "succeeded", "partially_succeeded", "failed", "cancelled", "skipped"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        {data ? <span className="muted small">{data.total} runs in all</span> : null}
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
