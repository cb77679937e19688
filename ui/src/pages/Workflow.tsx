import { Suspense, lazy, useEffect, useMemo, useState } from "react";
import { Link, useLocation, useNavigate, useParams, useSearchParams } from "react-router";
import { parse as parseYaml } from "yaml";
import { api, type HistoryRun, type Problem, type RunDetail, type RunEvent, type RunSummary } from "../api";
import { useLoader, useNow, useRunEvents, useThrottled } from "../hooks";
import { CalledBy, ErrorBox, Loading, RunsTable, itemsUrl, logUrl, runUrl, wfUrl } from "../components/common";
import { Graph, type GraphStep } from "../components/Graph";
import { ScheduleCard } from "../components/Schedule";
import { StartDialog } from "../components/StartDialog";
import { WebhookPanel } from "../components/Webhook";

// CodeMirror is loaded only when the editor is opened.
const YamlEditor = lazy(() => import("../components/Editor").then((m) => ({ default: m.YamlEditor })));
import {
  Legend,
  StatusBadge,
  fmtDuration,
  fmtTime,
  isActive,
  parseTime,
  shortId,
  span,
  statusInfo,
  stepStatus,
} from "../format";

const TABS = ["graph", "history", "spec", "webhook"] as const;
const TAB_LABELS: Record<Tab, string> = { graph: "Graph", history: "History", spec: "Spec (YAML)", webhook: "Webhook" };
type Tab = (typeof TABS)[number];

export function WorkflowPage() {
  const params = useParams();
  const name = decodeURIComponent(params["*"] ?? "").replace(/\/+$/, "");
  const [search, setSearch] = useSearchParams();
  const tab = (TABS as readonly string[]).includes(search.get("tab") ?? "") ? (search.get("tab") as Tab) : "graph";
  const file = search.get("file");
  const { data: wf, error, reload: reloadWf } = useLoader(() => api.workflow(name, file), [name, file]);
  const [starting, setStarting] = useState(false);
  const childDocument = !!wf && wf.document > 0;

  return (
    <div>
      <div className="page-head">
        <div>
          <div className="crumbs">
            <Link to="/workflows">Workflows</Link> ›
          </div>
          <h1>{name}</h1>
          {wf?.description ? <p className="muted">{wf.description}</p> : null}
          <div>
            {(wf?.tags ?? []).map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
            {wf?.schedule?.length ? <span className="mono small muted"> ◷ {wf.schedule.join(", ")}</span> : null}
            {wf?.file ? (
              <span className="mono small muted" title={wf.file} data-testid="workflow-file">
                {wf.tags?.length || wf.schedule?.length ? " · " : ""}
                {wf.path || wf.file}
                {childDocument ? ` (document ${wf.document + 1})` : ""}
              </span>
            ) : null}
          </div>
          {childDocument ? (
            <p className="muted small">
              A later document of {wf.path}: a child workflow that only that file's own workflow runs.
            </p>
          ) : null}
        </div>
        <span className="spacer" />
        <button
          className="primary"
          onClick={() => setStarting(true)}
          disabled={!wf || childDocument}
          title={childDocument ? "started only by its file's own workflow" : undefined}
        >
          ▶ Start…
        </button>
      </div>
      {wf?.schedule?.length && !childDocument ? <ScheduleCard name={wf.name} file={wf.file} /> : null}
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button
            key={t}
            role="tab"
            aria-selected={tab === t}
            className={tab === t ? "active" : ""}
            onClick={() => {
              const s = new URLSearchParams(search);
              s.set("tab", t);
              setSearch(s, { replace: true });
            }}
          >
            {TAB_LABELS[t]}
          </button>
        ))}
      </div>
      <ErrorBox error={error} />
      {error && !wf ? (
        <p className="muted small">
          This workflow is not in the DAGs folder (a child workflow may be found beside a parent elsewhere), but
          its runs are here:
        </p>
      ) : null}
      {error && !wf ? <HistoryTab name={name} file={null} /> : null}
      {!wf && !error ? <Loading /> : null}
      {wf && tab === "graph" ? <GraphTab name={name} steps={wf.steps} type={wf.type} /> : null}
      {wf && tab === "history" ? <HistoryTab name={name} file={wf.path || file} /> : null}
      {wf && tab === "spec" ? <SpecTab name={name} file={file} onSaved={() => void reloadWf()} /> : null}
      {wf && tab === "webhook" ? (
        childDocument ? (
          <p className="muted">A later document of a file is started only by its file's workflow: it has no webhook.</p>
        ) : (
          <WebhookPanel name={wf.name} />
        )
      ) : null}
      {starting && wf ? (
        <StartDialog workflow={name} file={wf.path || file} params={wf.params ?? []} locked={!!wf.runConfig?.disableParamEdit} onClose={() => setStarting(false)} />
      ) : null}
    </div>
  );
}

function GraphTab({ name, steps, type }: { name: string; steps: GraphStep[]; type: string }) {
  const navigate = useNavigate();
  const [search, setSearch] = useSearchParams();
  const chosen = search.get("run");
  const runs = useLoader(() => api.runs({ workflow: name, limit: 30 }), [name]);
  const runId = chosen ?? runs.data?.runs[0]?.runId ?? null;
  const detail = useLoader<RunDetail | null>(() => (runId ? api.run(runId) : Promise.resolve(null)), [runId]);
  const refreshRuns = useThrottled(() => void runs.reload(), 600);
  const refreshDetail = useThrottled(() => void detail.reload(), 300);
  useRunEvents(
    {
      onEvent: (e: RunEvent) => {
        if (!e.runId || e.name === name) refreshRuns();
        if (!e.runId || e.runId === runId || (runId && e.parentRunId === runId)) refreshDetail();
      },
    },
    [name, runId],
  );
  const d = detail.data;
  const now = useNow(isActive(d?.status));
  return (
    <div className="card">
      <div className="toolbar">
        <label>
          coloured by run{" "}
          <select
            value={runId ?? ""}
            onChange={(e) => {
              const s = new URLSearchParams(search);
              s.set("run", e.target.value);
              setSearch(s, { replace: true });
            }}
            aria-label="run"
          >
            {(runs.data?.runs ?? []).map((r, i) => (
              <option key={r.runId} value={r.runId}>
                {i === 0 ? "latest · " : ""}
                {shortId(r.runId)} · {statusInfo(r.status).label} · {fmtTime(r.startedAt)}
              </option>
            ))}
            {runs.data && runs.data.runs.length === 0 ? <option value="">no runs yet</option> : null}
          </select>
        </label>
        {d ? (
          <>
            <StatusBadge status={d.status} />
            <Link to={runUrl(d.runId)}>open run {shortId(d.runId)} →</Link>
            <CalledBy run={d} />
          </>
        ) : null}
      </div>
      <Graph
        steps={steps}
        type={type}
        records={d?.steps}
        children={d?.children}
        childCounts={d?.childCounts}
        runStatus={d?.status ?? null}
        now={now}
        onStepClick={(step) => {
          if (!d) return;
          const def = steps.find((s) => s.name === step);
          const kids = d.children.filter((c) => c.step === step);
          if (def?.parallel && kids.length) navigate(itemsUrl(d.runId, step));
          else if (kids.length === 1) navigate(runUrl(kids[0].runId));
          else navigate(`${runUrl(d.runId)}#step-${encodeURIComponent(step)}`);
        }}
      />
      <p className="muted small">
        Click a step to open it in the run: a sub-workflow step opens its child run, a parallel step its items. Scroll
        to zoom, drag to pan, the corner buttons zoom and fit.
      </p>
    </div>
  );
}

const HISTORY_PAGE = 50;

/** Runs × steps, a page of runs at a time from the server: a column per run (newest first),
 * a row per step in the workflow's order; each cell is the step's status in that run and a
 * link to its log there. */
function HistoryTab({ name, file }: { name: string; file: string | null }) {
  const [search, setSearch] = useSearchParams();
  const offset = Math.max(0, Number(search.get("offset")) || 0);
  const { data, error, reload } = useLoader(async () => {
    const [history, list] = await Promise.all([
      api.history(name, { file, limit: HISTORY_PAGE, offset }),
      api.runs({ workflow: name, limit: HISTORY_PAGE, offset }),
    ]);
    return { history, list };
  }, [name, file, offset]);
  const refresh = useThrottled(() => void reload(), 1000);
  useRunEvents({ accept: (e) => !e.runId || e.name === name, onEvent: refresh }, [name]);
  const now = useNow(!!data?.history.runs.some((r) => isActive(r.status)));
  const go = (to: number) => {
    const s = new URLSearchParams(search);
    if (to > 0) s.set("offset", String(to));
    else s.delete("offset");
    setSearch(s, { replace: true });
  };
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading />;
  const { runs, steps, total } = data.history;
  const pager = (
    <div className="toolbar">
      <button onClick={() => go(Math.max(0, offset - HISTORY_PAGE))} disabled={offset === 0} aria-label="newer runs">
        ‹ newer
      </button>
      <span className="small" data-testid="history-page">
        {total === 0
          ? "no runs"
          : `runs ${(offset + 1).toLocaleString()}–${(offset + runs.length).toLocaleString()} of ${total.toLocaleString()}`}
      </span>
      <button
        onClick={() => go(offset + HISTORY_PAGE)}
        disabled={offset + runs.length >= total}
        aria-label="older runs"
      >
        older ›
      </button>
    </div>
  );
  return (
    <div>
      <div className="card">
        {pager}
        {runs.length === 0 ? (
          <p className="muted">No runs yet.</p>
        ) : (
          <div className="grid-scroll">
            <table className="hgrid" data-testid="history-grid">
              <thead>
                <tr>
                  <th className="hgrid-step">step \ run</th>
                  {runs.map((r) => (
                    <HistoryHead key={r.runId} run={r} now={now} />
                  ))}
                </tr>
              </thead>
              <tbody>
                {steps.map((s) => (
                  <tr key={s} data-step={s}>
                    <td className="hgrid-step">{s}</td>
                    {runs.map((r) => (
                      <td key={r.runId}>
                        <HistoryCell run={r} step={s} />
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Legend />
      </div>
      <div className="card flush">
        <RunsTable runs={data.list.runs as RunSummary[]} now={now} showWorkflow={false} />
      </div>
    </div>
  );
}

/** A run's column head: its status (a link to the run), its date and its duration. */
function HistoryHead({ run, now }: { run: HistoryRun; now: number }) {
  const info = statusInfo(run.status);
  const took = fmtDuration(span(run.startedAt, run.finishedAt, now, isActive(run.status)));
  return (
    <th
      className="hgrid-run"
      data-run-id={run.runId}
      title={`run ${run.runId}\n${info.label}\nstarted ${fmtTime(run.startedAt ?? run.createdAt)}\ntook ${took}`}
    >
      <div className="hgrid-when">
        <span>{fmtDay(run.startedAt ?? run.createdAt)}</span>
        <span className="muted" data-testid="run-took">
          {took}
        </span>
      </div>
      {run.parentRunId ? <div className="muted tiny">child</div> : null}
      <Link
        to={runUrl(run.runId)}
        className={`hcell ${info.cls}`}
        data-status={run.status}
        aria-label={`run ${run.runId}`}
      >
        {run.status === "running" ? <span className="spin">{info.icon}</span> : info.icon}
      </Link>
    </th>
  );
}

/** A step's status in one run: a link to its log there. */
function HistoryCell({ run, step }: { run: HistoryRun; step: string }) {
  const raw = run.steps[step];
  if (!raw) {
    return (
      <span className="hcell s-none empty" data-status="none" title={`${step}: not in run ${run.runId}`}>
        ·
      </span>
    );
  }
  const st = stepStatus({ status: raw, tolerated: run.tolerated.includes(step) }, run.status);
  const info = statusInfo(st);
  return (
    <Link
      to={logUrl(run.runId, step, "?stream=stdout")}
      className={`hcell ${info.cls}`}
      data-status={st}
      data-run-id={run.runId}
      aria-label={`${step} in run ${shortId(run.runId)}: ${info.label}`}
      title={`${step} · ${info.label}\nrun ${run.runId}\nopen its log`}
    >
      {raw === "running" ? <span className="spin">{info.icon}</span> : info.icon}
    </Link>
  );
}

/** A short date and time for a column head ("05-03 14:07"). */
function fmtDay(t: string | null): string {
  const v = parseTime(t);
  if (v === null) return "—";
  const d = new Date(v);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

function previewSteps(text: string): { steps: GraphStep[]; type: string } | null {
  try {
    const doc = parseYaml(text) as Record<string, unknown> | null;
    if (!doc || typeof doc !== "object" || !Array.isArray(doc.steps)) return null;
    const steps: GraphStep[] = [];
    doc.steps.forEach((raw: unknown, i: number) => {
      if (!raw || typeof raw !== "object") return;
      const s = raw as Record<string, unknown>;
      const dep = s.depends;
      steps.push({
        name: String(s.name ?? s.id ?? `step ${i + 1}`),
        depends: Array.isArray(dep) ? dep.map(String) : typeof dep === "string" ? [dep] : [],
        run: typeof s.run === "string" ? s.run : null,
        parallel: s.parallel ?? null,
        command: typeof s.command === "string" ? s.command : null,
      });
    });
    return { steps, type: typeof doc.type === "string" ? doc.type : "chain" };
  } catch {
    return null;
  }
}

function SpecTab({ name, file, onSaved }: { name: string; file: string | null; onSaved: () => void }) {
  const spec = useLoader(() => api.spec(name, file), [name, file]);
  const schema = useLoader(() => api.schema().catch(() => null), []);
  const [text, setText] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problem[] | null>(null);
  const [valid, setValid] = useState<boolean | null>(null);
  const [saveMsg, setSaveMsg] = useState<string | null>(null);
  const [saveErr, setSaveErr] = useState<string | null>(null);
  const location = useLocation();
  const current = text ?? spec.data?.yaml ?? "";
  const [preview, setPreview] = useState<{ steps: GraphStep[]; type: string } | null>(null);
  useEffect(() => {
    const t = window.setTimeout(() => {
      const p = previewSteps(current);
      if (p) setPreview(p);
    }, 250);
    return () => window.clearTimeout(t);
  }, [current]);
  const dirty = text !== null && text !== spec.data?.yaml;
  const save = async () => {
    setSaveErr(null);
    setSaveMsg(null);
    try {
      await api.saveSpec(name, current, file);
      setSaveMsg(`saved at ${new Date().toLocaleTimeString()}`);
      spec.setData({ yaml: current });
      setText(null);
      onSaved();
    } catch (e) {
      setSaveErr(e instanceof Error ? e.message : String(e));
    }
  };
  const initial = useMemo(() => spec.data?.yaml ?? null, [spec.data === null, location.key]); // eslint-disable-line
  if (spec.error) return <ErrorBox error={spec.error} />;
  if (initial === null || schema.loading) return <Loading />;
  return (
    <div className="spec-layout">
      <div className="card spec-editor">
        <div className="toolbar">
          <strong>YAML</strong>
          <span className={`valid ${valid === false ? "bad" : valid ? "good" : ""}`} data-testid="validity">
            {valid === null ? "validating…" : valid ? "✓ valid" : `✗ ${problems?.length ?? 0} problem(s)`}
          </span>
          <span className="spacer" />
          {saveMsg ? <span className="muted small">{saveMsg}</span> : null}
          <button className="primary" onClick={() => void save()} disabled={!dirty || valid === false}>
            Save
          </button>
        </div>
        <Suspense fallback={<Loading />}>
          <YamlEditor
            initial={initial}
            schema={schema.data}
            onChange={setText}
            onProblems={(p, v) => {
              setProblems(p);
              setValid(v);
            }}
            onSave={() => void save()}
          />
        </Suspense>
        <ErrorBox error={saveErr} />
        {problems && problems.length ? (
          <ul className="problems" data-testid="problems">
            {problems.map((p, i) => (
              <li key={i}>
                <span className="mono">line {p.line ?? "?"}</span>
                {p.field ? <span className="mono"> {p.field}</span> : null}: {p.message}
              </li>
            ))}
          </ul>
        ) : null}
      </div>
      <div className="card spec-preview">
        <strong>Graph preview</strong>
        {preview && preview.steps.length ? (
          <Graph steps={preview.steps} type={preview.type} />
        ) : (
          <p className="muted">No steps to draw yet.</p>
        )}
      </div>
    </div>
  );
}

export { wfUrl };
