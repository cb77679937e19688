import { Fragment, useEffect, useMemo, useState } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { api, type ChildRef, type RunDetail, type StartedRun, type StepRecord, type WorkflowDetail } from "../api";
import { useLoader, useNow, useRunEvents, useThrottled } from "../hooks";
import { CalledBy, ErrorBox, Loading, itemsUrl, logUrl, runUrl, wfUrl } from "../components/common";
import { Graph, fmtProgress, progressOf, type GraphStep } from "../components/Graph";
import { Gantt } from "../components/Gantt";
import { RunTree, TreeEvents } from "../components/RunTree";
import { StatusBadge, fmtBytes, fmtDuration, fmtItem, fmtTime, isActive, shortId, span, stepStatus } from "../format";

/** Breadcrumbs from the root run down to this one, through each calling step and item. */
export function Breadcrumbs({ run, tail }: { run: RunDetail; tail?: React.ReactNode }) {
  const chain = run.ancestors ?? [];
  // Each link in the chain is followed by the step (and item) of it that called the next run.
  const calls: { step: string | null; itemIndex: number | null }[] = [];
  for (let i = 0; i < chain.length; i++) {
    const next = i + 1 < chain.length ? chain[i + 1] : { step: run.parentStep, itemIndex: run.itemIndex };
    calls.push({ step: next.step, itemIndex: next.itemIndex });
  }
  return (
    <nav className="crumbs" aria-label="breadcrumbs" data-testid="breadcrumbs">
      {chain.map((a, i) => (
        <Fragment key={a.runId}>
          <Link to={runUrl(a.runId)} data-crumb={a.runId}>
            {a.name} <span className="mono muted">{shortId(a.runId)}</span>
          </Link>
          {calls[i].step ? (
            <>
              {" › "}
              <Link to={`${runUrl(a.runId)}#step-${encodeURIComponent(calls[i].step!)}`} className="crumb-step">
                {calls[i].step}
              </Link>
            </>
          ) : null}
          {calls[i].itemIndex !== null && calls[i].itemIndex !== undefined ? (
            <>
              {" › "}
              <Link to={itemsUrl(a.runId, calls[i].step ?? "")} className="crumb-step">
                item {calls[i].itemIndex}
              </Link>
            </>
          ) : null}
          {" › "}
        </Fragment>
      ))}
      {tail ?? (
        <span className="current">
          {run.name} <span className="mono">{shortId(run.runId)}</span>
        </span>
      )}
    </nav>
  );
}

/** Whether a run event concerns `runId` or one of its direct children. */
export const concerns = (runId: string) => (e: { runId: string; parentRunId: string | null }) =>
  !e.runId || e.runId === runId || e.parentRunId === runId;

export function RunPage() {
  const { runId = "" } = useParams();
  const navigate = useNavigate();
  const location = useLocation();
  const { data: run, error, reload } = useLoader(() => api.run(runId), [runId]);
  const wf = useLoader<WorkflowDetail | null>(
    () => (run?.name ? api.workflow(run.name, run.workflowFile).catch(() => null) : Promise.resolve(null)),
    [run?.name, run?.workflowFile],
  );
  const refresh = useThrottled(() => void reload(), 250);
  const tree = useMemo(() => new TreeEvents(), [runId]);
  // The page's run and its children reload the page, and so do the runs it started without
  // waiting (roots of their own); a run shown in an open level of the tree reloads that level
  // (the stream of every run: a level may be any depth below this one).
  const live = useRunEvents(
    {
      onEvent: (e) => {
        if (concerns(runId)(e) || run?.started?.some((s) => s.runId === e.runId)) refresh();
        tree.changed(e);
        // the page's own run changed (a step ended, the run ended): every open level is read
        // again, so that the tree's last word matches the run's even if a child's was missed
        if (e.runId === runId) tree.changed({ runId: "", parentRunId: null });
      },
    },
    [runId],
  );
  const active = isActive(run?.status) || !!run?.steps.some((s) => s.status === "running");
  const now = useNow(active);
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [fromStep, setFromStep] = useState("");
  const [downstream, setDownstream] = useState(true);
  const [openAttempts, setOpenAttempts] = useState<Record<string, boolean>>({});
  const [confirmStop, setConfirmStop] = useState(false);

  useEffect(() => {
    // Scroll to #step-NAME once the table is there.
    if (run && location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
  }, [run !== null, location.hash]); // eslint-disable-line react-hooks/exhaustive-deps

  const act = async (label: string, fn: () => Promise<{ runId?: string } | null | unknown>) => {
    setBusy(label);
    setActionError(null);
    try {
      const res = (await fn()) as { runId?: string } | null;
      // The page stays on (or moves to) the run the action was about — never another one.
      if (res && typeof res === "object" && res.runId && res.runId !== runId) navigate(runUrl(res.runId));
      else await reload();
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  };

  if (error && !run) return <ErrorBox error={error} />;
  if (!run) return <Loading />;

  const defs: Record<string, GraphStep> = {};
  for (const s of wf.data?.steps ?? []) defs[s.name] = s;
  const kidsOf = (step: string) => run.children.filter((c) => c.step === step);
  const isParallel = (step: string) => {
    const def = defs[step];
    if (def) return def.parallel !== null && def.parallel !== undefined;
    const k = kidsOf(step);
    return k.length > 1 || k.some((c) => c.itemIndex !== null);
  };
  const graphSteps: GraphStep[] =
    wf.data?.steps ??
    run.steps.map((s, i) => ({
      name: s.name,
      depends: i > 0 ? [run.steps[i - 1].name] : [],
      parallel: isParallel(s.name) ? true : null,
      run: kidsOf(s.name)[0]?.name ?? null,
    }));
  const finished = !isActive(run.status) && run.status !== "waiting";
  const activeStarted = (run.started ?? []).filter((s) => isActive(s.status)).length;
  const isChild = !!run.parentRunId;
  const total = span(run.startedAt, run.finishedAt, now, isActive(run.status));

  return (
    <div>
      <Breadcrumbs run={run} />
      <div className="page-head">
        <div>
          <h1>
            <Link to={wfUrl(run.name, run.workflowFile)} className="plain">
              {run.name}
            </Link>{" "}
            <span className="mono muted run-id" title={run.runId}>
              {run.runId}
            </span>
          </h1>
          <div className="head-meta">
            <StatusBadge status={run.status} />
            {run.attempt > 1 ? <span className="tag">attempt {run.attempt}</span> : null}
            {run.waitingReason ? (
              <span className="tag" data-testid="waiting-reason">
                waiting: {run.waitingReason}
              </span>
            ) : null}
            {run.worker ? (
              <Link to="/workers" className="tag mono" title="the worker that holds the run">
                on {run.worker}
              </Link>
            ) : null}
            <span className="muted">started {fmtTime(run.startedAt)}</span>
            <span className="muted">
              {finished ? "took" : "running for"} <strong>{fmtDuration(total)}</strong>
            </span>
            {run.source ? <span className="muted small">via {run.source}</span> : null}
            <CalledBy run={run} />
            {run.startedBy ? (
              <span className="called-by small" data-testid="started-by">
                Started by{" "}
                <Link to={runUrl(run.startedBy.runId)}>
                  {run.startedBy.name ?? "run"} <span className="mono">{shortId(run.startedBy.runId)}</span>
                </Link>{" "}
                (step{" "}
                <Link to={`${runUrl(run.startedBy.runId)}#step-${encodeURIComponent(run.startedBy.step)}`} className="crumb-step">
                  {run.startedBy.step}
                </Link>
                )
              </span>
            ) : null}
            <span className={`live ${live ? "on" : ""}`} title="live updates over Server-Sent Events">
              {live ? "● live" : "○ connecting"}
            </span>
          </div>
        </div>
        <span className="spacer" />
        <div className="actions">
          {run.status === "queued" ? (
            <button onClick={() => void act("dequeue", () => api.dequeue(runId))} disabled={!!busy}>
              Dequeue
            </button>
          ) : null}
          {confirmStop && !finished ? (
            <span className="confirm" role="group" aria-label="confirm stop">
              <span className="small">Stop this run and its children?</span>
              <button
                className="danger"
                onClick={() => {
                  setConfirmStop(false);
                  void act("stop", () => api.stop(runId));
                }}
                disabled={!!busy}
              >
                Yes, stop
              </button>
              {activeStarted > 0 ? (
                <button
                  className="danger"
                  onClick={() => {
                    setConfirmStop(false);
                    void act("stop", () => api.stop(runId, true));
                  }}
                  disabled={!!busy}
                  title="the runs its wait: false steps started are runs of their own: a plain stop leaves them running"
                >
                  Stop it and the {activeStarted === 1 ? "run" : `${activeStarted} runs`} it started
                </button>
              ) : null}
              <button onClick={() => setConfirmStop(false)}>No</button>
            </span>
          ) : (
            <button
              className="danger"
              onClick={() => setConfirmStop(true)}
              disabled={!!busy || finished}
              title={finished ? "the run has finished" : "stop this run and its children"}
            >
              ■ Stop
            </button>
          )}
          {isChild ? (
            <span className="retry-from small muted" title="a child run is retried through its root run">
              retried through its root:{" "}
              <Link to={`${runUrl(run.rootRunId ?? run.ancestors[0]?.runId ?? "")}`}>root run →</Link>
            </span>
          ) : null}
          <button
            onClick={() => void act("retry", () => api.retry(runId, null, false))}
            disabled={!!busy || !finished || isChild}
            title={
              isChild
                ? "a child run is retried through its root run"
                : finished
                  ? "run again, keeping what succeeded"
                  : "wait for the run to finish"
            }
          >
            ↻ Retry
          </button>
          <span className="retry-from">
            <select value={fromStep} onChange={(e) => setFromStep(e.target.value)} aria-label="retry from step">
              <option value="">from step…</option>
              {run.steps.map((s) => (
                <option key={s.name} value={s.name}>
                  {s.name}
                </option>
              ))}
            </select>
            <label className="small" title="also run the steps after it">
              <input type="checkbox" checked={downstream} onChange={(e) => setDownstream(e.target.checked)} />
              downstream
            </label>
            <button
              onClick={() => void act("retry-step", () => api.retry(runId, fromStep, downstream))}
              disabled={!!busy || !finished || !fromStep || isChild}
            >
              ↻ Retry from step
            </button>
          </span>
        </div>
      </div>
      <ErrorBox error={actionError} />
      {run.firstFailure && run.firstFailure.depth > 0 ? (
        <div className="error-box first-failure" data-testid="first-failure">
          First failure, {run.firstFailure.depth} {run.firstFailure.depth === 1 ? "level" : "levels"} down:{" "}
          <Link to={`${runUrl(run.firstFailure.runId)}#step-${encodeURIComponent(run.firstFailure.step)}`}>
            {run.firstFailure.name} › {run.firstFailure.step}
          </Link>
          {run.firstFailure.error ? <span className="small"> — {run.firstFailure.error}</span> : null}
        </div>
      ) : null}
      {run.error ? (
        <div
          className={`error-box ${run.status === "cancelled" || run.status === "waiting" ? "neutral" : ""}`}
          data-testid="run-error"
        >
          {run.error}
        </div>
      ) : null}

      <div className="card">
        <Graph
          steps={graphSteps}
          type={wf.data?.type ?? "chain"}
          records={run.steps}
          children={run.children}
          childCounts={run.childCounts}
          runStatus={run.status}
          now={now}
          onStepClick={(step) => {
            const kids = kidsOf(step);
            if (isParallel(step) && kids.length) navigate(itemsUrl(runId, step));
            else if (kids.length === 1) navigate(runUrl(kids[0].runId));
            else document.getElementById(`step-${step}`)?.scrollIntoView({ behavior: "smooth" });
          }}
        />
      </div>

      <div className="card flush">
        <table className="table steps" data-testid="steps-table">
          <thead>
            <tr>
              <th>Step</th>
              <th>Status</th>
              <th>Started</th>
              <th>Duration</th>
              <th>Exit</th>
              <th>Attempt</th>
              <th>Logs</th>
              <th>Runs</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {run.steps.map((s) => (
              <StepRow
                key={s.name}
                run={run}
                step={s}
                now={now}
                kids={kidsOf(s.name)}
                parallel={isParallel(s.name)}
                def={defs[s.name]}
                attempts={allAttempts(s, run.attempts?.[s.name])}
                open={!!openAttempts[s.name]}
                toggle={() => setOpenAttempts({ ...openAttempts, [s.name]: !openAttempts[s.name] })}
                onRetry={() => void act("retry-step", () => api.retry(runId, s.name, downstream))}
                canRetry={finished && !busy && !isChild}
              />
            ))}
          </tbody>
        </table>
      </div>

      {run.started?.length ? <StartedRuns started={run.started} /> : null}

      <RunTree
        key={run.runId /* a new run's page starts with its tree closed */}
        runId={run.runId}
        total={Object.values(run.childCounts ?? {}).reduce(
          (sum, byStatus) => sum + Object.values(byStatus).reduce((a, b) => a + b, 0),
          run.childCounts ? 0 : run.children.length,
        )}
        events={tree}
        now={now}
      />

      <div className="two-col">
        <div className="card">
          <h3>Timeline</h3>
          <Gantt steps={run.steps} runStatus={run.status} now={now} />
        </div>
        <div className="card">
          <h3>Params</h3>
          <KeyValues values={run.params} testid="params" />
          <h3>Outputs</h3>
          <KeyValues values={run.outputs} testid="outputs" />
        </div>
      </div>
    </div>
  );
}

/** The runs this run's `wait: false` steps started: roots of their own, linked both ways. */
function StartedRuns({ started }: { started: StartedRun[] }) {
  return (
    <div className="card" data-testid="started-runs">
      <h3>Started runs</h3>
      <p className="muted small">
        Runs that steps with <code>wait: false</code> started and did not wait for: each is a root run of its own, with
        its own queue and history.
      </p>
      <table className="table">
        <thead>
          <tr>
            <th>Step</th>
            <th>Workflow</th>
            <th>Status</th>
            <th>Run</th>
          </tr>
        </thead>
        <tbody>
          {started.map((s) => (
            <tr key={s.runId} data-run-id={s.runId}>
              <td>
                <Link to={`#step-${encodeURIComponent(s.step)}`}>{s.step}</Link>
              </td>
              <td>{s.name ? <Link to={wfUrl(s.name)}>{s.name}</Link> : <span className="muted">(deleted)</span>}</td>
              <td>{s.status ? <StatusBadge status={s.status} /> : <span className="muted">—</span>}</td>
              <td>
                <Link to={runUrl(s.runId)} className="mono">
                  {shortId(s.runId)} →
                </Link>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Every attempt of a step, oldest first: the earlier ones the server keeps, then this one. */
function allAttempts(step: StepRecord, earlier: StepRecord[] | undefined): StepRecord[] {
  if (!earlier || earlier.length === 0) return [];
  const past = earlier.filter((a) => a.attempt !== step.attempt).sort((a, b) => a.attempt - b.attempt);
  return [...past, step];
}

function KeyValues({ values, testid }: { values: Record<string, string> | null; testid: string }) {
  const entries = Object.entries(values ?? {});
  if (entries.length === 0) return <p className="muted">none</p>;
  return (
    <dl className="kvs" data-testid={testid}>
      {entries.map(([k, v]) => (
        <Fragment key={k}>
          <dt className="mono">{k}</dt>
          <dd>
            <pre className="value">{typeof v === "string" ? v : JSON.stringify(v, null, 2)}</pre>
          </dd>
        </Fragment>
      ))}
    </dl>
  );
}

/** The form of a step waiting for a person: its prompt, its inputs, approve or reject. */
function Approval({ run, step }: { run: RunDetail; step: StepRecord }) {
  const ask = step.waiting ?? {};
  const names = ask.input ?? [];
  const required = new Set(ask.required ?? []);
  const [values, setValues] = useState<Record<string, string>>({});
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const missing = [...required].filter((n) => !(values[n] ?? "").trim());
  const act = async (approve: boolean) => {
    setBusy(true);
    setError(null);
    try {
      if (approve) await api.approve(run.runId, step.name, values);
      else await api.reject(run.runId, step.name, reason);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="approval" data-testid={`approval-${step.name}`}>
      {ask.prompt ? <div className="prompt">{ask.prompt}</div> : null}
      {names.map((name) => (
        <label key={name}>
          <span className="mono small">
            {name}
            {required.has(name) ? " *" : ""}
          </span>{" "}
          <input
            data-input={name}
            value={values[name] ?? ""}
            onChange={(e) => setValues({ ...values, [name]: e.target.value })}
          />
        </label>
      ))}
      <div className="row">
        <button onClick={() => void act(true)} disabled={busy || missing.length > 0}>
          ✓ Approve
        </button>{" "}
        <input placeholder="reason" value={reason} onChange={(e) => setReason(e.target.value)} />{" "}
        <button onClick={() => void act(false)} disabled={busy}>
          ✗ Reject
        </button>
      </div>
      {error ? <div className="small step-error">{error}</div> : null}
    </div>
  );
}

function StepRow({
  run,
  step,
  now,
  kids,
  parallel,
  def,
  attempts,
  open,
  toggle,
  onRetry,
  canRetry,
}: {
  run: RunDetail;
  step: StepRecord;
  now: number;
  kids: ChildRef[];
  parallel: boolean;
  def: GraphStep | undefined;
  attempts: StepRecord[];
  open: boolean;
  toggle: () => void;
  onRetry: () => void;
  canRetry: boolean;
}) {
  const running = step.status === "running";
  const st = stepStatus(step, run.status);
  const progress = parallel ? progressOf(run.children, step.name, run.childCounts) : null;
  const enc = encodeURIComponent;
  return (
    <>
      <tr id={`step-${step.name}`} data-step={step.name} className={running ? "row-running" : undefined}>
        <td>
          <strong>{step.name}</strong>
          {step.handler ? <span className="tag">handler {typeof step.handler === "string" ? step.handler : ""}</span> : null}
          {def?.run ? <span className="tag sub">⇢ {def.run}</span> : null}
          {parallel ? <span className="tag par">∥ parallel</span> : null}
          {step.output !== null && step.output !== undefined && step.output !== "" ? (
            <div className="small">
              <span className="mono muted">{step.outputVar ?? "output"} =</span>{" "}
              <code className="output">{step.output.length > 140 ? `${step.output.slice(0, 140)}…` : step.output}</code>
              {step.outputCut ? (
                <a
                  className="small"
                  data-testid="whole-output"
                  href={`/api/v1/runs/${encodeURIComponent(run.runId)}/steps/${encodeURIComponent(step.name)}/output`}
                  download={`${run.runId}-${step.name}.output.txt`}
                >
                  {" "}
                  whole output ({fmtBytes(step.outputSize ?? 0)})
                </a>
              ) : null}
            </div>
          ) : null}
        </td>
        <td>
          <StatusBadge status={st} title={step.error} />
          {step.status === "waiting" ? <Approval run={run} step={step} /> : null}
          {step.error ? (
            <div className={`small step-error${st === "failed" ? "" : st === "tolerated" ? " quiet tol" : " quiet"}`}>
              {step.error}
            </div>
          ) : null}
        </td>
        <td className="small">{fmtTime(step.startedAt)}</td>
        <td className={running ? "elapsed" : undefined}>{fmtDuration(span(step.startedAt, step.finishedAt, now, running))}</td>
        <td className="mono">{step.exitCode ?? "—"}</td>
        <td>
          {attempts.length > 1 ? (
            <button className="link" onClick={toggle} title="show every attempt">
              {step.attempt} · all {attempts.length} {open ? "▴" : "▾"}
            </button>
          ) : (
            <span>{step.attempt || "—"}</span>
          )}
        </td>
        <td className="nowrap">
          {step.startedAt ? (
            <>
              <Link to={logUrl(run.runId, step.name, "?stream=stdout")}>stdout</Link>{" "}
              <Link to={logUrl(run.runId, step.name, "?stream=stderr")} className="muted">
                stderr
              </Link>
            </>
          ) : (
            <span className="muted">—</span>
          )}
        </td>
        <td>
          {parallel && kids.length ? (
            <Link to={itemsUrl(run.runId, step.name)} data-testid={`items-${step.name}`}>
              {progress ? fmtProgress(progress) : `${kids.length} items`} →
            </Link>
          ) : kids.length === 1 ? (
            <Link to={runUrl(kids[0].runId)} data-testid={`child-${step.name}`}>
              <StatusBadge status={kids[0].status} small /> child run {shortId(kids[0].runId)} →
            </Link>
          ) : kids.length > 1 ? (
            <Link to={itemsUrl(run.runId, step.name)}>{kids.length} runs →</Link>
          ) : null}
        </td>
        <td>
          <button className="small-btn" onClick={onRetry} disabled={!canRetry} title="retry the run from this step">
            ↻ from here
          </button>
        </td>
      </tr>
      {open
        ? attempts.map((a, i) => (
            <tr key={i} className="attempt-row">
              <td className="muted small">↳ attempt {a.attempt || i + 1}</td>
              <td>
                <StatusBadge status={a.status} small title={a.error} />
                {a.error ? <div className="small step-error">{a.error}</div> : null}
              </td>
              <td className="small">{fmtTime(a.startedAt)}</td>
              <td className="small">{fmtDuration(span(a.startedAt, a.finishedAt, now, a.status === "running"))}</td>
              <td className="mono small">{a.exitCode ?? "—"}</td>
              <td />
              <td className="small nowrap">
                <Link to={logUrl(run.runId, step.name, `?stream=stdout&attempt=${enc(String(a.attempt || i + 1))}`)}>
                  stdout
                </Link>{" "}
                <Link to={logUrl(run.runId, step.name, `?stream=stderr&attempt=${enc(String(a.attempt || i + 1))}`)}>
                  stderr
                </Link>
              </td>
              <td colSpan={2} />
            </tr>
          ))
        : null}
    </>
  );
}

export { fmtItem };
