import { Link } from "react-router";
import type { RunSummary } from "../api";
import { StatusBadge, fmtDuration, fmtItem, fmtTime, isActive, shortId, span } from "../format";

export const runUrl = (runId: string) => `/runs/${encodeURIComponent(runId)}`;
/** A workflow's page; `file` (relative to the DAGs folder) picks it when names repeat. */
export const wfUrl = (name: string, file?: string | null, tab?: string) => {
  const q = new URLSearchParams();
  if (file) q.set("file", file);
  if (tab) q.set("tab", tab);
  const s = q.toString();
  return `/workflows/${name.split("/").map(encodeURIComponent).join("/")}${s ? `?${s}` : ""}`;
};
export const logUrl = (runId: string, step: string, q = "") =>
  `/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(step)}/log${q}`;
export const itemsUrl = (runId: string, step: string) =>
  `/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(step)}/items`;

/** "called by parent › step › item": how a child run was started. */
export function CalledBy({ run }: { run: Pick<RunSummary, "parentRunId" | "parentStep" | "itemIndex" | "item"> }) {
  if (!run.parentRunId) return null;
  return (
    <span className="called-by small">
      called by <Link to={runUrl(run.parentRunId)}>{shortId(run.parentRunId)}</Link>
      {run.parentStep ? <> › {run.parentStep}</> : null}
      {run.itemIndex !== null && run.itemIndex !== undefined ? (
        <>
          {" "}
          › item {run.itemIndex}
          {run.item !== null && run.item !== undefined ? <> ({fmtItem(run.item)})</> : null}
        </>
      ) : null}
    </span>
  );
}

export function ErrorBox({ error }: { error: string | null }) {
  if (!error) return null;
  return <div className="error-box">{error}</div>;
}

export function Loading() {
  return <p className="muted">Loading…</p>;
}

export function RunsTable({
  runs,
  now,
  showWorkflow = true,
}: {
  runs: RunSummary[];
  now: number;
  showWorkflow?: boolean;
}) {
  if (runs.length === 0) return <p className="muted">No runs yet.</p>;
  return (
    <table className="table" data-testid="runs-table">
      <thead>
        <tr>
          <th>Status</th>
          {showWorkflow ? <th>Workflow</th> : null}
          <th>Run</th>
          <th>Started</th>
          <th>Duration</th>
          <th>Params</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.runId} data-run-id={r.runId}>
            <td>
              <StatusBadge status={r.status} title={r.error} />
            </td>
            {showWorkflow ? (
              <td>
                <Link to={wfUrl(r.name, r.workflowFile)}>{r.name}</Link>
              </td>
            ) : null}
            <td>
              <Link to={runUrl(r.runId)} className="mono">
                {shortId(r.runId)}
              </Link>
              {r.attempt > 1 ? <span className="muted small"> · attempt {r.attempt}</span> : null}
              <div>
                <CalledBy run={r} />
              </div>
            </td>
            <td title={r.startedAt ?? ""}>{fmtTime(r.startedAt)}</td>
            <td>{fmtDuration(span(r.startedAt, r.finishedAt, now, isActive(r.status)))}</td>
            <td className="params-cell">
              {Object.entries(r.params ?? {})
                .slice(0, 4)
                .map(([k, v]) => (
                  <span key={k} className="kv" title={`${k}=${v}`}>
                    {k}={v.length > 40 ? `${v.slice(0, 40)}…` : v}
                  </span>
                ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
