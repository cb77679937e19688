import type { RunStatus, StepStatus } from "./api";

type AnyStatus = RunStatus | StepStatus | "tolerated" | "none";

export interface StatusInfo {
  label: string;
  icon: string;
  cls: string;
  title: string;
}

// Each status has its own colour, icon and words: a tolerated failure, a step that never ran
// because an upstream failed, a run stopped by a person and a step skipped by its precondition
// all look different from one another and from a plain failure.
const INFO: Record<AnyStatus, StatusInfo> = {
  not_started: { label: "not started", icon: "○", cls: "s-none", title: "has not started yet" },
  queued: { label: "queued", icon: "⋯", cls: "s-queued", title: "waiting in its queue" },
  running: { label: "running", icon: "◐", cls: "s-running", title: "running now" },
  waiting: { label: "waiting", icon: "‖", cls: "s-waiting", title: "waiting for a person to approve" },
  succeeded: { label: "succeeded", icon: "✓", cls: "s-ok", title: "finished successfully" },
  partially_succeeded: {
    label: "partially succeeded",
    icon: "◑",
    cls: "s-partial",
    title: "finished; a failure was tolerated by continueOn",
  },
  failed: { label: "failed", icon: "✗", cls: "s-fail", title: "failed" },
  tolerated: {
    label: "failed (tolerated)",
    icon: "✗",
    cls: "s-tolerated",
    title: "failed, but continueOn let the run go on",
  },
  skipped: { label: "skipped", icon: "↷", cls: "s-skip", title: "skipped (precondition not met)" },
  cancelled: { label: "cancelled", icon: "■", cls: "s-cancel", title: "stopped" },
  upstream_failed: {
    label: "upstream failed",
    icon: "⤓",
    cls: "s-upstream",
    title: "not run because a step it depends on failed",
  },
  none: { label: "no runs", icon: "·", cls: "s-none", title: "never ran" },
};

export function statusInfo(s: string | null | undefined): StatusInfo {
  return INFO[(s ?? "none") as AnyStatus] ?? { label: String(s), icon: "?", cls: "s-none", title: String(s) };
}

/** A step's displayed status: a failure the run survived (continueOn) is "tolerated". */
export function stepStatus(step: { status: StepStatus; tolerated?: boolean }, runStatus: RunStatus): AnyStatus {
  if (step.status !== "failed") return step.status;
  if (step.tolerated || runStatus === "partially_succeeded" || runStatus === "succeeded") return "tolerated";
  return step.status;
}

export function StatusBadge({
  status,
  title,
  small,
}: {
  status: string | null | undefined;
  title?: string | null;
  small?: boolean;
}) {
  const info = statusInfo(status);
  return (
    <span
      className={`badge ${info.cls}${small ? " small" : ""}`}
      title={title ?? info.title}
      data-status={status ?? "none"}
    >
      <span className={status === "running" ? "spin" : undefined}>{info.icon}</span> {info.label}
    </span>
  );
}

export function parseTime(t: string | null | undefined): number | null {
  if (!t) return null;
  const v = Date.parse(t);
  return Number.isNaN(v) ? null : v;
}

export function fmtTime(t: string | null | undefined): string {
  const v = parseTime(t);
  if (v === null) return "—";
  const d = new Date(v);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : d.toLocaleString([], {
        year: "numeric",
        month: "short",
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
      });
}

export function fmtDuration(ms: number | null): string {
  if (ms === null || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  const rs = Math.floor(s % 60);
  if (m < 60) return `${m}m ${rs}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

/** Duration of something that started at `a` and finished at `b`, or is still going (`now`). */
export function span(
  a: string | null | undefined,
  b: string | null | undefined,
  now: number,
  running: boolean,
): number | null {
  const s = parseTime(a);
  if (s === null) return null;
  const e = parseTime(b) ?? (running ? now : null);
  return e === null ? null : e - s;
}

/** The last 8 characters of a run id: its first ones are a timestamp (UUIDv7), shared by runs
 * started in the same instant, so only the end tells sibling runs apart. */
export function fmtBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} bytes` : `${value % 1 === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function shortId(id: string): string {
  return id.length > 10 ? id.slice(-8) : id;
}

export function fmtItem(item: unknown): string {
  if (item === null || item === undefined) return "";
  if (typeof item === "string") return item;
  return JSON.stringify(item);
}

export function isActive(status: string | null | undefined): boolean {
  return status === "running" || status === "queued";
}

export function ago(t: string | null | undefined, now: number): string {
  const v = parseTime(t);
  if (v === null) return "—";
  const d = now - v;
  if (d < 0) return `in ${fmtDuration(-d)}`;
  if (d < 60_000) return `${Math.round(d / 1000)} s ago`;
  if (d < 3_600_000) return `${Math.round(d / 60_000)} min ago`;
  if (d < 86_400_000) return `${Math.round(d / 3_600_000)} h ago`;
  return `${Math.round(d / 86_400_000)} d ago`;
}

/** Every status with its colour and meaning, for grids and graphs. */
export function Legend() {
  const shown: AnyStatus[] = [
    "succeeded",
    "running",
    "queued",
    "failed",
    "tolerated",
    "partially_succeeded",
    "upstream_failed",
    "skipped",
    "cancelled",
    "not_started",
  ];
  return (
    <div className="legend" aria-label="legend">
      {shown.map((s) => (
        <StatusBadge key={s} status={s} small />
      ))}
    </div>
  );
}
