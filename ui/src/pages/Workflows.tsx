import { Fragment, useMemo, useState } from "react";
import { Link } from "react-router";
import { api, type WorkflowSummary } from "../api";
import { useLoader, useNow, useRunEvents, useThrottled } from "../hooks";
import { ErrorBox, Loading, runUrl, wfUrl } from "../components/common";
import { StartDialog } from "../components/StartDialog";
import { StatusBadge, ago, fmtTime, isActive } from "../format";

/** The file to name in a workflow's link when its name alone would find another file: the
 * name finds the file `<name>.yaml` first, then the workflow with `name:` (see docs/cli.md). */
const byFile = (w: { name: string; path?: string | null }) =>
  w.path && w.path.replace(/\.ya?ml$/, "") !== w.name ? w.path : null;

/** Every workflow: last run's status, schedule and next run, tags; search by name or tag.
 * Workflows of subfolders of the DAGs folder come after the top-level ones, grouped by folder. */
export function Workflows() {
  const { data, error, reload } = useLoader(() => api.workflows(), []);
  const refresh = useThrottled(() => void reload(), 800);
  useRunEvents({ onEvent: refresh }, []);
  const [q, setQ] = useState("");
  const [tag, setTag] = useState("");
  const [starting, setStarting] = useState<WorkflowSummary | null>(null);
  const all = data?.workflows ?? [];
  const now = useNow(all.some((w) => isActive(w.lastRun?.status)), 5000);
  const tags = useMemo(() => [...new Set(all.flatMap((w) => w.tags ?? []))].sort(), [all]);
  const shown = all.filter((w) => {
    const needle = q.trim().toLowerCase();
    const hit =
      !needle ||
      w.name.toLowerCase().includes(needle) ||
      (w.description ?? "").toLowerCase().includes(needle) ||
      (w.tags ?? []).some((t) => t.toLowerCase().includes(needle));
    return hit && (!tag || (w.tags ?? []).includes(tag));
  });
  // The server lists the top-level files first, then each subfolder's (sorted by folder).
  const groups: { folder: string; rows: WorkflowSummary[] }[] = [];
  for (const w of shown) {
    const folder = w.folder ?? "";
    if (!groups.length || groups[groups.length - 1].folder !== folder) groups.push({ folder, rows: [] });
    groups[groups.length - 1].rows.push(w);
  }
  return (
    <div>
      <div className="page-head">
        <h1>Workflows</h1>
        <span className="muted small">{all.length} workflows</span>
      </div>
      <div className="toolbar">
        <input
          className="search"
          type="search"
          placeholder="Search name, description or tag…"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          aria-label="search workflows"
        />
        {tags.length ? (
          <select value={tag} onChange={(e) => setTag(e.target.value)} aria-label="tag">
            <option value="">all tags</option>
            {tags.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        ) : null}
      </div>
      <ErrorBox error={error} />
      {!data && !error ? <Loading /> : null}
      {data ? (
        <div className="card flush">
          <table className="table" data-testid="workflows-table">
            <thead>
              <tr>
                <th>Workflow</th>
                <th>Last run</th>
                <th>Schedule</th>
                <th>Next run</th>
                <th>Tags</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <Fragment key={g.folder}>
                  {g.folder ? (
                    <tr className="group-row" data-folder={g.folder}>
                      <td colSpan={6}>
                        <span className="folder-icon">▸</span> {g.folder}/
                      </td>
                    </tr>
                  ) : null}
                  {g.rows.map((w) => (
                    <tr key={w.path || w.name} data-workflow={w.name} data-path={w.path}>
                      <td className={g.folder ? "indented" : undefined}>
                        <Link to={wfUrl(w.name, byFile(w))} className="strong">
                          {w.name}
                        </Link>
                        {g.folder ? <span className="mono muted small"> {w.path}</span> : null}
                        {w.description ? <div className="muted small clamp">{w.description}</div> : null}
                        {w.error ? <div className="error-text small">⚠ {w.error}</div> : null}
                      </td>
                      <td>
                        {w.lastRun ? (
                          <Link to={runUrl(w.lastRun.runId)} className="plain">
                            <StatusBadge status={w.lastRun.status} />
                            <div className="muted small">{ago(w.lastRun.startedAt, now)}</div>
                          </Link>
                        ) : (
                          <StatusBadge status={null} />
                        )}
                      </td>
                      <td className="mono small">{(w.schedule ?? []).join("\n") || <span className="muted">—</span>}</td>
                      <td className="small" title={w.nextRun ?? ""}>
                        {w.nextRun ? fmtTime(w.nextRun) : <span className="muted">—</span>}
                      </td>
                      <td>
                        {(w.tags ?? []).map((t) => (
                          <button key={t} className="tag clickable" onClick={() => setTag(t)}>
                            {t}
                          </button>
                        ))}
                      </td>
                      <td className="right">
                        <button className="primary small-btn" onClick={() => setStarting(w)} disabled={!!w.error}>
                          ▶ Start
                        </button>
                      </td>
                    </tr>
                  ))}
                </Fragment>
              ))}
              {shown.length === 0 ? (
                <tr>
                  <td colSpan={6} className="muted">
                    No workflow matches.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
      ) : null}
      {starting ? (
        <StartDialog
          workflow={starting.name}
          file={byFile(starting)}
          params={starting.params ?? []}
          locked={!!starting.runConfig?.disableParamEdit}
          onClose={() => setStarting(null)}
        />
      ) : null}
    </div>
  );
}
