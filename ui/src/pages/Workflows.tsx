import { Fragment, useState } from "react";
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

const PAGE_SIZE = 100;

/** The workflows, a page at a time, searched, filtered and sorted by the server: last run's
 * status, schedule and next run, tags. Workflows of subfolders of the DAGs folder come after
 * the top-level ones, grouped by folder (sorted by name). */
export function Workflows() {
  const [q, setQ] = useState("");
  const [tag, setTag] = useState("");
  const [sort, setSort] = useState("name");
  const [page, setPage] = useState(0);
  const { data, error, reload } = useLoader(
    () => api.workflows({ q: q.trim() || undefined, tag: tag || undefined, sort, limit: PAGE_SIZE, offset: page * PAGE_SIZE }),
    [q, tag, sort, page],
  );
  const refresh = useThrottled(() => void reload(), 800);
  useRunEvents({ onEvent: refresh }, []);
  const [starting, setStarting] = useState<WorkflowSummary | null>(null);
  const shown = data?.workflows ?? [];
  const total = data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const now = useNow(shown.some((w) => isActive(w.lastRun?.status)), 5000);
  const tags = data?.tags ?? [];
  const pick = (apply: () => void) => {
    apply();
    setPage(0);
  };
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
        <span className="muted small" data-testid="workflows-total">
          {total} workflows
        </span>
      </div>
      <div className="toolbar">
        <input
          className="search"
          type="search"
          placeholder="Search name, description or tag…"
          value={q}
          onChange={(e) => pick(() => setQ(e.target.value))}
          aria-label="search workflows"
        />
        {tags.length ? (
          <select value={tag} onChange={(e) => pick(() => setTag(e.target.value))} aria-label="tag">
            <option value="">all tags</option>
            {tags.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        ) : null}
        <select value={sort} onChange={(e) => pick(() => setSort(e.target.value))} aria-label="sort">
          <option value="name">by folder and name</option>
          <option value="-name">by name, Z to A</option>
          <option value="-lastRun">last run, newest first</option>
          <option value="lastRun">last run, oldest first</option>
        </select>
        {pages > 1 ? (
          <span className="pager">
            <button onClick={() => setPage(page - 1)} disabled={page <= 0} aria-label="previous page">
              ‹
            </button>
            <span className="small nowrap" data-testid="workflows-page">
              {page * PAGE_SIZE + 1}–{Math.min(total, (page + 1) * PAGE_SIZE)} of {total}
            </span>
            <button onClick={() => setPage(page + 1)} disabled={page + 1 >= pages} aria-label="next page">
              ›
            </button>
          </span>
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
                          <button key={t} className="tag clickable" onClick={() => pick(() => setTag(t))}>
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
