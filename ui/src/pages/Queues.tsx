import { useState } from "react";
import { Link } from "react-router";
import { api, type PauseVerb, type Queue } from "../api";
import { useLoader, useNow, useRunEvents, useThrottled } from "../hooks";
import { ErrorBox, Loading, runUrl, wfUrl } from "../components/common";
import { StatusBadge, ago, fmtTime, shortId } from "../format";

/** Queues with their running and waiting runs, why each one waits, dequeue, pause and resume. */
export function QueuesPage() {
  const { data, error, reload } = useLoader(async () => {
    const [q, sched] = await Promise.all([api.queues(), api.scheduler().catch(() => null)]);
    return { queues: Array.isArray(q) ? q : q.queues, sched };
  }, []);
  const refresh = useThrottled(() => void reload(), 400);
  useRunEvents({ onEvent: refresh }, []);
  const now = useNow(true, 5000);
  const [actionError, setActionError] = useState<string | null>(null);
  const dequeue = async (runId: string) => {
    setActionError(null);
    try {
      await api.dequeue(runId);
      await reload();
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    }
  };
  const pause = async (queue: string, verb: PauseVerb) => {
    setActionError(null);
    try {
      await api.pauseQueue(queue, verb);
      await reload();
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div>
      <div className="page-head">
        <h1>Queues</h1>
        {data?.sched ? (
          <span className={`tag ${data.sched.active ? "s-ok" : "s-cancel"}`} title={data.sched.owner ?? ""}>
            scheduler {data.sched.active ? "running" : "not running"}
          </span>
        ) : null}
      </div>
      {data?.sched && !data.sched.active ? (
        <p className="muted small">
          No scheduler is running: enqueued runs wait until one starts (<code>plait start-all</code> or{" "}
          <code>plait scheduler</code>).
        </p>
      ) : null}
      <ErrorBox error={error ?? actionError} />
      {!data && !error ? <Loading /> : null}
      {data && data.queues.length === 0 ? <p className="muted">No queues yet: nothing has been enqueued.</p> : null}
      {data?.queues.map((q) => (
        <QueueCard
          key={q.name}
          q={q}
          now={now}
          onDequeue={(id) => void dequeue(id)}
          onPause={(verb) => pause(q.name, verb)}
        />
      ))}
    </div>
  );
}

function QueueCard({
  q,
  now,
  onDequeue,
  onPause,
}: {
  q: Queue;
  now: number;
  onDequeue: (runId: string) => void;
  onPause: (verb: PauseVerb) => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setBusy(true);
    await onPause(q.paused ? "resume" : "pause");
    setBusy(false);
  };
  const running = q.runs.filter((r) => r.status === "running");
  const waiting = q.runs.filter((r) => r.status === "queued");
  const runningCount = typeof q.running === "number" ? q.running : running.length;
  return (
    <div className="card" data-queue={q.name} data-paused={!!q.paused}>
      <div className="toolbar">
        <h3 className="inline">{q.name}</h3>
        {q.paused ? (
          <span className="badge small s-partial" data-testid="queue-paused" title={q.pausedAt ?? ""}>
            ‖ paused since {fmtTime(q.pausedAt)}
          </span>
        ) : null}
        <span className="muted small">
          {runningCount} running / capacity {q.capacity ?? "∞"} · {waiting.length || q.waiting.length} waiting
          {q.declared ? "" : " · implicit queue"}
        </span>
        <span className="spacer" />
        <button
          className="small-btn"
          onClick={() => void toggle()}
          disabled={busy}
          title={
            q.paused
              ? "let the queue start its waiting runs again"
              : "hold the queue's waiting runs (running ones go on; kept across restarts)"
          }
        >
          {q.paused ? "▶ Resume queue" : "‖ Pause queue"}
        </button>
      </div>
      {q.paused ? (
        <p className="muted small">Paused: it starts none of its runs, and runs that arrive wait, until it is resumed.</p>
      ) : null}
      {q.runs.length === 0 ? (
        <p className="muted">Empty.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>#</th>
              <th>Status</th>
              <th>Workflow</th>
              <th>Run</th>
              <th>Enqueued</th>
              <th title="higher first; a waiting run counts one more for each minute it waits">Priority</th>
              <th>Why it waits</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {[...running, ...waiting, ...q.runs.filter((r) => r.status !== "running" && r.status !== "queued")].map((r) => (
              <tr key={r.runId} data-run-id={r.runId}>
                <td className="mono">{r.position ?? "—"}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  <Link to={wfUrl(r.name)}>{r.name}</Link>
                </td>
                <td>
                  <Link to={runUrl(r.runId)} className="mono">
                    {shortId(r.runId)}
                  </Link>
                </td>
                <td className="small" title={fmtTime(r.enqueuedAt)}>
                  {ago(r.enqueuedAt, now)}
                </td>
                <td className="mono" data-testid="priority">
                  {r.priority ?? "—"}
                </td>
                <td className="small" data-testid="reason">{r.status === "running" ? <span className="muted">running since {fmtTime(r.startedAt)}</span> : r.reason ?? "—"}</td>
                <td className="right">
                  {r.status === "queued" ? (
                    <button className="small-btn" onClick={() => onDequeue(r.runId)}>
                      Dequeue
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
