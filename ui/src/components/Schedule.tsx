// A workflow's schedule on its page: its lines and next times, whether it is paused (and the
// toggle), and the latest fire times it did not run, with the reason.

import { useEffect, useState } from "react";
import { api, type Schedule } from "../api";
import { useLoader } from "../hooks";
import { fmtTime, parseTime } from "../format";
import { ErrorBox } from "./common";

const SETTLE_MS = 1500; // the scheduler looks every quarter second; give it time to record the fire time
const MAX_TIMER_MS = 86_400_000; // a time further off is read again when the page is

/** The schedule of `name` (whose file is `file`, absolute) as the scheduler sees it. */
export function ScheduleCard({ name, file }: { name: string; file: string }) {
  const { data, error, reload } = useLoader(async () => {
    const { schedules } = await api.schedules();
    // Names repeat across subfolders: the one of this file first.
    return schedules.find((s) => s.name === name && s.file === file) ?? schedules.find((s) => s.name === name) ?? null;
  }, [name, file]);
  // A fire time is run or skipped by the scheduler, which sends no event for a skip: read the
  // schedule again just after its next time, not on a polling loop.
  const nextAt = parseTime(data?.next[0]);
  useEffect(() => {
    if (nextAt === null) return;
    const wait = nextAt - Date.now() + SETTLE_MS;
    if (wait > MAX_TIMER_MS) return;
    const timer = window.setTimeout(() => void reload(), Math.max(wait, SETTLE_MS));
    return () => window.clearTimeout(timer);
  }, [nextAt, reload]);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const toggle = async (schedule: Schedule) => {
    setBusy(true);
    setActionError(null);
    try {
      await api.pauseSchedule(name, schedule.paused ? "resume" : "pause");
      await reload();
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  if (error) return <ErrorBox error={error} />;
  if (!data) return null;
  return (
    <div className="card schedule-card" data-testid="schedule" data-paused={data.paused}>
      <div className="toolbar">
        <strong>◷ Schedule</strong>
        <span className="mono small">{data.schedule.join(", ")}</span>
        {data.paused ? (
          <span className="badge small s-partial" data-testid="schedule-state">
            ‖ paused
          </span>
        ) : (
          <span className="badge small s-ok" data-testid="schedule-state">
            active
          </span>
        )}
        <span className="muted small">
          {data.paused
            ? "its fire times are skipped until it is resumed"
            : data.next.length
              ? `next: ${data.next.map((t) => fmtTime(t)).join(", ")}`
              : "no next time"}
        </span>
        <span className="spacer" />
        <button
          className="small-btn"
          onClick={() => void toggle(data)}
          disabled={busy}
          title={data.paused ? "fire at the schedule's times again" : "skip the schedule's times (kept across restarts)"}
        >
          {data.paused ? "▶ Resume schedule" : "‖ Pause schedule"}
        </button>
      </div>
      <ErrorBox error={actionError} />
      {data.skipped.length ? (
        <div className="small" data-testid="skipped">
          <span className="muted">Skipped fire times (latest first):</span>
          <ul className="skipped">
            {data.skipped.map((s) => (
              <li key={s.fireAt} data-fire-at={s.fireAt}>
                <span title={s.fireAt}>{fmtTime(s.fireAt)}</span> — {s.reason}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
