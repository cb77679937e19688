import { Link } from "react-router";
import { api, type Worker } from "../api";
import { useLoader, useNow, useRunEvents, useThrottled } from "../hooks";
import { ErrorBox, Loading, runUrl } from "../components/common";
import { ago, fmtTime, shortId } from "../format";
import { useEffect } from "react";

const STATE_CLASS: Record<string, string> = { live: "s-ok", stopping: "s-cancel", lost: "s-fail" };

/** The registered workers: labels, slots in use, last heartbeat and the runs in their hands. */
export function WorkersPage() {
  const { data, error, reload } = useLoader(() => api.workers(), []);
  const refresh = useThrottled(() => void reload(), 400);
  useRunEvents({ onEvent: refresh }, []);
  useEffect(() => {
    const timer = window.setInterval(refresh, 3000); // heartbeats move without run events
    return () => window.clearInterval(timer);
  }, [refresh]);
  const now = useNow(true, 1000);
  const workers = data?.workers ?? [];
  return (
    <div>
      <div className="page-head">
        <h1>Workers</h1>
        {data ? <span className="muted small">{workers.filter((w) => w.state === "live").length} live</span> : null}
      </div>
      <ErrorBox error={error} />
      {!data && !error ? <Loading /> : null}
      {data && workers.length === 0 ? (
        <p className="muted">
          No worker has registered. Runs of workflows without a <code>workerSelector</code> run on the scheduler's
          machine. Workers need the PostgreSQL store: start <code>plait worker --labels gpu=true --slots 4</code> on each
          machine that should take runs.
        </p>
      ) : null}
      {workers.length > 0 ? (
        <table className="table" data-testid="workers">
          <thead>
            <tr>
              <th>Worker</th>
              <th>State</th>
              <th>Host</th>
              <th>Labels</th>
              <th>Slots in use</th>
              <th>Heartbeat</th>
              <th>Runs</th>
              <th>Version</th>
            </tr>
          </thead>
          <tbody>
            {workers.map((w) => (
              <WorkerRow key={w.id} w={w} now={now} />
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function WorkerRow({ w, now }: { w: Worker; now: number }) {
  const labels = Object.entries(w.labels);
  return (
    <tr data-worker={w.id}>
      <td className="mono">{w.id}</td>
      <td>
        <span className={`tag ${STATE_CLASS[w.state] ?? ""}`}>{w.state}</span>
      </td>
      <td className="small" title={`pid ${w.pid}`}>
        {w.host}
      </td>
      <td className="small">
        {labels.length === 0 ? <span className="muted">none</span> : null}
        {labels.map(([k, v]) => (
          <span key={k} className="tag">
            {k}={v}
          </span>
        ))}
      </td>
      <td className="mono" data-slots>
        {w.busy} / {w.slots}
      </td>
      <td className="small" title={fmtTime(w.heartbeatAt)}>
        {ago(w.heartbeatAt, now)}
      </td>
      <td className="small">
        {w.runs.length === 0 ? <span className="muted">—</span> : null}
        {w.runs.map((id) => (
          <Link key={id} to={runUrl(id)} className="mono tag">
            {shortId(id)}
          </Link>
        ))}
      </td>
      <td className="small muted">{w.version}</td>
    </tr>
  );
}
