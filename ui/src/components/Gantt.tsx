import type { RunStatus, StepRecord } from "../api";
import { fmtDuration, parseTime, statusInfo, stepStatus } from "../format";

/** A timeline of the run's steps: one bar per step, placed by its start and end. */
export function Gantt({
  steps,
  runStatus,
  now,
}: {
  steps: StepRecord[];
  runStatus: RunStatus;
  now: number;
}) {
  const timed = steps.filter((s) => parseTime(s.startedAt) !== null);
  if (timed.length === 0) return <p className="muted">No step has started yet.</p>;
  const starts = timed.map((s) => parseTime(s.startedAt)!);
  const ends = timed.map((s) => parseTime(s.finishedAt) ?? (s.status === "running" ? now : parseTime(s.startedAt)!));
  const t0 = Math.min(...starts);
  const t1 = Math.max(...ends, t0 + 1);
  const total = t1 - t0;
  return (
    <div className="gantt" data-testid="gantt">
      <div className="gantt-axis">
        <span>0</span>
        <span>{fmtDuration(total / 2)}</span>
        <span>{fmtDuration(total)}</span>
      </div>
      {steps.map((s) => {
        const a = parseTime(s.startedAt);
        const info = statusInfo(stepStatus(s, runStatus));
        if (a === null)
          return (
            <div className="gantt-row" key={s.name}>
              <div className="gantt-label">{s.name}</div>
              <div className="gantt-track">
                <span className="muted small">{info.label}</span>
              </div>
            </div>
          );
        const b = parseTime(s.finishedAt) ?? (s.status === "running" ? now : a);
        const left = ((a - t0) / total) * 100;
        const width = Math.max(((b - a) / total) * 100, 0.6);
        return (
          <div className="gantt-row" key={s.name}>
            <div className="gantt-label">{s.name}</div>
            <div className="gantt-track">
              <div
                className={`gantt-bar ${info.cls}${s.status === "running" ? " is-running" : ""}`}
                style={{ left: `${left}%`, width: `${width}%` }}
                title={`${s.name}: ${info.label}, ${fmtDuration(b - a)}`}
              />
              <span className="gantt-dur" style={{ left: `calc(${Math.min(left + width, 88)}% + 6px)` }}>
                {fmtDuration(b - a)}
              </span>
            </div>
          </div>
        );
      })}
    </div>
  );
}
