// Typed client for plait's REST API (/api/v1). State-changing requests carry the
// X-Plait-Request header the server demands against CSRF.
//
// Query params, request bodies and the error body are typed by api-types.ts, which
// scripts/api-types.sh generates from the server's OpenAPI document. The server's replies are
// plain JSON objects there (its endpoints declare no response models), so the reply types
// below are written by hand.

import type { components, paths } from "./api-types";

type Schemas = components["schemas"];
/** The query params of the GET of a path, as the server's OpenAPI document declares them. */
type QueryOf<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } }
  ? NonNullable<Q>
  : never;
export type RunsQuery = QueryOf<"/api/v1/runs">;
export type ChildrenQuery = QueryOf<"/api/v1/runs/{runId}/children">;
export type LogQuery = QueryOf<"/api/v1/runs/{runId}/steps/{step}/log">;
export type WorkflowsQuery = QueryOf<"/api/v1/workflows">;
export type HistoryQuery = QueryOf<"/api/v1/workflows/{name}/history">;
/** What pauses or resumes a queue or a schedule, as the server's OpenAPI document declares it. */
export type PauseVerb = paths["/api/v1/queues/{name}/{verb}"]["post"]["parameters"]["path"]["verb"];

export const BASE = "/api/v1";

export type StepStatus =
  | "not_started"
  | "running"
  | "succeeded"
  | "failed"
  | "skipped"
  | "cancelled"
  | "upstream_failed"
  | "waiting";
export type RunStatus =
  | "queued"
  | "running"
  | "succeeded"
  | "partially_succeeded"
  | "failed"
  | "cancelled"
  | "skipped"
  | "waiting"
  | "not_started";

export interface LastRun {
  runId: string;
  status: RunStatus;
  startedAt: string | null;
  finishedAt: string | null;
}
export interface Param {
  name: string;
  default: string | null;
  /** A declared param's interface (typed params); absent for a plain NAME=value param. */
  type?: "string" | "integer" | "number" | "boolean" | null;
  required?: boolean;
  description?: string | null;
  /** The values allowed, when the param declares them. */
  enum?: string[] | null;
}
export interface WorkflowSummary {
  name: string;
  file: string;
  /** The file relative to the DAGs folder ("ci/build.yaml"). */
  path: string;
  /** Its subfolder of the DAGs folder ("" at the top). */
  folder: string;
  description: string | null;
  tags: string[];
  group: string | null;
  schedule: string[];
  nextRun: string | null;
  lastRun: LastRun | null;
  params: Param[];
  /** What the UI and API may not change when starting a run. */
  runConfig?: { disableParamEdit: boolean; disableRunIdEdit: boolean };
  error: string | null;
}
export interface StepDef {
  name: string;
  id: string | null;
  description: string | null;
  depends: string[];
  command: string | null;
  script: string | null;
  run: string | null;
  parallel: { items: unknown; maxConcurrent: number | null } | null;
  output: string | null;
}
export interface WorkflowDetail {
  name: string;
  file: string;
  path: string;
  /** Which document of the file (0: the file's own workflow; later ones are its children). */
  document: number;
  description: string | null;
  tags: string[];
  type: string;
  params: Param[];
  runConfig?: { disableParamEdit: boolean; disableRunIdEdit: boolean };
  schedule: string[];
  steps: StepDef[];
  handlers: Record<string, unknown> | unknown[] | null;
}
export interface RunSummary {
  name: string;
  runId: string;
  status: RunStatus;
  params: Record<string, string>;
  outputs: Record<string, string>;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  attempt: number;
  parentRunId: string | null;
  parentStep: string | null;
  rootRunId: string | null;
  itemIndex: number | null;
  item: unknown;
  source?: string | null;
  /** The run's workflow file relative to the DAGs folder, null when outside it. */
  workflowFile?: string | null;
}
export interface StepRecord {
  name: string;
  status: StepStatus;
  exitCode: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  output: string | null;
  outputVar: string | null;
  attempt: number;
  error: string | null;
  stdoutFile: string | null;
  stderrFile: string | null;
  handler?: string | boolean | null;
  /** A failure that continueOn tolerated (the run went on). */
  tolerated?: boolean;
  /** A step waiting for a person: what it asks. */
  waiting?: { prompt?: string; input?: string[]; required?: string[] };
  /** The output is longer than a run's reply shows: `outputSize` bytes in all, read whole
   * from `/runs/{id}/steps/{step}/output`. */
  outputCut?: boolean;
  outputSize?: number;
}
export interface ChildRef {
  runId: string;
  name: string;
  status: RunStatus;
  step: string;
  itemIndex: number | null;
  item: unknown;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  /** Which attempt of the child this is (a page of children says; 1 is the first). */
  attempt?: number;
  /** How many children it has itself (a page of children says). */
  childCount?: number;
}
export interface Ancestor {
  runId: string;
  name: string;
  step: string | null;
  itemIndex: number | null;
}
export interface RunDetail extends RunSummary {
  source: string | null;
  steps: StepRecord[];
  /** The children of each step: all of them when few; else those that did not succeed first,
   * up to 100 a step (the rest: `childCounts` and `GET /runs/{id}/children`). */
  children: ChildRef[];
  /** How many children each step has, by status. */
  childCounts?: Record<string, Record<string, number>>;
  attempts: Record<string, StepRecord[]>;
  ancestors: Ancestor[];
  /** Where a run that did not succeed failed first, however deep (depth 0: in itself). */
  firstFailure?: { runId: string; name: string; step: string; error: string | null; depth: number } | null;
  /** Why a queued run does not run yet ("no worker with gpu=true", ...). */
  waitingReason?: string | null;
  /** The worker that holds the run (PostgreSQL store with workers). */
  worker?: string | null;
  /** The run whose `wait: false` step started this run (or the tree this run is part of). */
  startedBy?: { runId: string; step: string; name: string | null } | null;
  /** The runs this run's `wait: false` steps started. */
  started?: StartedRun[];
}
export interface StartedRun {
  runId: string;
  step: string;
  /** null when the run is gone (deleted by retention). */
  name: string | null;
  status: RunStatus | null;
}
/** One run of a workflow's history: its times and each step's status. */
export interface HistoryRun {
  runId: string;
  status: RunStatus;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  attempt: number;
  parentRunId: string | null;
  /** Each step's status, in step order. */
  steps: Record<string, StepStatus>;
  /** The failed steps whose failure continueOn tolerated. */
  tolerated: string[];
}
export interface History {
  name: string;
  /** Every step, in the workflow's order (then others its runs had, as handlers). */
  steps: string[];
  runs: HistoryRun[];
  total: number;
}
export interface LogChunk {
  content: string;
  offset: number;
  nextOffset: number;
  size: number;
  truncated: boolean;
  /** bytes kept of each stream of a step attempt (logs.maxStepLogSize) */
  cap?: number;
  /** the log reached its cap and was cut there */
  cut?: boolean;
}
export interface QueueRun {
  runId: string;
  name: string;
  status: RunStatus;
  position: number | null;
  enqueuedAt: string | null;
  startedAt: string | null;
  /** Its place among the waiting runs: higher first (before ageing). */
  priority?: number | null;
  reason: string | null;
}
export interface Queue {
  name: string;
  capacity: number | null;
  declared: boolean;
  running: number | string[] | null;
  waiting: string[];
  runs: QueueRun[];
  /** A paused queue starts none of its runs (it is listed even when empty). */
  paused?: boolean;
  pausedAt?: string | null;
}
/** A queue or a schedule after pause or resume. */
export interface PauseState {
  name: string;
  paused: boolean;
  pausedAt: string | null;
  /** Whether this request changed it (false: it was so already). */
  changed: boolean;
}
/** A scheduled workflow, as the scheduler sees it (`plait schedule list`). */
export interface Schedule {
  /** null for a file that does not load (`error` says why). */
  name: string | null;
  file: string;
  schedule: string[];
  stop: string[];
  restart: string[];
  /** The next fire times. */
  next: string[];
  paused: boolean;
  /** The latest fire times that did not run, newest first, with the reason. */
  skipped: { fireAt: string; reason: string }[];
  error: string | null;
}
/** A workflow's webhook token: when it was made and last used (never the token itself). */
export interface Webhook {
  workflow: string;
  createdAt: string | null;
  lastUsedAt: string | null;
  /** The path other systems call (POST, with the token as a bearer token). */
  url: string;
}
export interface Worker {
  id: string;
  host: string;
  pid: number;
  labels: Record<string, string>;
  slots: number;
  busy: number;
  runs: string[];
  version: string;
  startedAt: string | null;
  heartbeatAt: string | null;
  state: "live" | "stopping" | "lost";
}
export interface Problem {
  line: number | null;
  field: string | null;
  message: string;
}
export interface RunEvent {
  runId: string;
  name: string;
  status: RunStatus;
  steps: { name: string; status: StepStatus; startedAt: string | null; finishedAt: string | null }[];
  parentRunId: string | null;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-Plait-Request"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) throw new ApiError(res.status, errorMessage(data) ?? `${res.status} ${res.statusText}`);
  return data as T;
}

function errorMessage(data: unknown): string | null {
  if (typeof data === "string") return data || null;
  if (data && typeof data === "object") {
    const body = data as Partial<Schemas["ErrorBody"]>;
    if (typeof body.error === "string") return body.error;
    const d = data as Record<string, unknown>;
    for (const key of ["error", "message", "detail"]) {
      const v = d[key];
      if (typeof v === "string") return v;
      if (v && typeof v === "object") {
        const inner = v as Record<string, unknown>;
        if (typeof inner.message === "string") return inner.message;
        return JSON.stringify(v);
      }
    }
  }
  return null;
}

export function qs(params: { [key: string]: string | number | boolean | null | undefined }): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== "") u.set(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : "";
}

const enc = encodeURIComponent;
// Workflow names may contain "/" (ci/build): keep the slashes, escape each segment.
export const wfPath = (name: string) => name.split("/").map(enc).join("/");

/** The body of a request, as the server's OpenAPI document declares it. */
const body = <K extends keyof Schemas>(value: Schemas[K]) => value;

export const api = {
  workflows: (filter: WorkflowsQuery = {}) =>
    request<{ workflows: WorkflowSummary[]; total: number; tags: string[] }>("GET", `/workflows${qs(filter)}`),
  workflow: (name: string, file?: string | null) =>
    request<WorkflowDetail>("GET", `/workflows/${wfPath(name)}${qs({ file })}`),
  history: (name: string, q: HistoryQuery) => request<History>("GET", `/workflows/${wfPath(name)}/history${qs(q)}`),
  spec: (name: string, file?: string | null) =>
    request<{ yaml: string }>("GET", `/workflows/${wfPath(name)}/spec${qs({ file })}`),
  saveSpec: (name: string, yaml: string, file?: string | null) =>
    request<unknown>("PUT", `/workflows/${wfPath(name)}/spec${qs({ file })}`, body<"SpecBody">({ yaml })),
  validate: (yaml: string) =>
    request<{ valid: boolean; problems: Problem[] }>("POST", `/validate`, body<"ValidateBody">({ yaml })),
  schema: () => request<Record<string, unknown>>("GET", `/schema`),
  start: (name: string, params: Record<string, string>, file?: string | null) =>
    request<{ runId: string }>("POST", `/workflows/${wfPath(name)}/start${qs({ file })}`, body<"StartBody">({ params })),
  enqueue: (name: string, params: Record<string, string>, file?: string | null) =>
    request<{ runId: string }>(
      "POST",
      `/workflows/${wfPath(name)}/enqueue${qs({ file })}`,
      body<"StartBody">({ params }),
    ),
  runs: (filter: RunsQuery) =>
    request<{ runs: RunSummary[]; total: number; counts: Record<string, number> }>("GET", `/runs${qs(filter)}`),
  run: (runId: string) => request<RunDetail>("GET", `/runs/${enc(runId)}`),
  children: (runId: string, filter: ChildrenQuery) =>
    request<{ children: ChildRef[]; total: number; counts?: Record<string, number> }>(
      "GET",
      `/runs/${enc(runId)}/children${qs(filter)}`,
    ),
  /** Stop a run; with `started`, also the runs its `wait: false` steps started (any depth). */
  stop: (runId: string, started = false) =>
    request<{ runId?: string; startedStopped?: string[] }>(
      "POST",
      `/runs/${enc(runId)}/stop${started ? "?started=true" : ""}`,
      {},
    ),
  retry: (runId: string, step: string | null, downstream = true) =>
    request<{ runId?: string }>("POST", `/runs/${enc(runId)}/retry`, body<"RetryBody">({ step, downstream })),
  dequeue: (runId: string) => request<{ runId?: string }>("POST", `/runs/${enc(runId)}/dequeue`, {}),
  approve: (runId: string, step: string, inputs: Record<string, string>) =>
    request<{ rootRunId?: string }>(
      "POST",
      `/runs/${enc(runId)}/steps/${enc(step)}/approve`,
      body<"ApproveBody">({ inputs }),
    ),
  reject: (runId: string, step: string, reason: string) =>
    request<{ rootRunId?: string }>(
      "POST",
      `/runs/${enc(runId)}/steps/${enc(step)}/reject`,
      body<"RejectBody">({ reason }),
    ),
  log: (runId: string, step: string, q: LogQuery) =>
    request<LogChunk>("GET", `/runs/${enc(runId)}/steps/${enc(step)}/log${qs(q)}`),
  logStreamUrl: (runId: string, step: string, q: Record<string, string | number | undefined>) =>
    `${BASE}/runs/${enc(runId)}/steps/${enc(step)}/log/stream${qs(q)}`,
  queues: () => request<Queue[] | { queues: Queue[] }>("GET", `/queues`),
  workers: () => request<{ workers: Worker[] }>("GET", `/workers`),
  scheduler: () => request<{ active: boolean; owner: string | null }>("GET", `/scheduler`),
  pauseQueue: (name: string, verb: PauseVerb) => request<PauseState>("POST", `/queues/${enc(name)}/${verb}`, {}),
  schedules: () => request<{ schedules: Schedule[] }>("GET", `/schedules`),
  pauseSchedule: (name: string, verb: PauseVerb) =>
    request<PauseState>("POST", `/workflows/${wfPath(name)}/schedule/${verb}`, {}),
  /** Every workflow that has a webhook token (never the tokens themselves). */
  webhooks: () => request<{ webhooks: Webhook[] }>("GET", "/webhooks"),
  /** A workflow's webhook token, or null when it has none (the server answers 404). */
  webhook: (name: string) =>
    request<Webhook>("GET", `/workflows/${wfPath(name)}/webhook`).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }),
  /** Makes (or replaces) the token: the reply is the only time it is shown. */
  createWebhook: (name: string) =>
    request<Webhook & { token: string }>("POST", `/workflows/${wfPath(name)}/webhook`, {}),
  revokeWebhook: (name: string) =>
    request<{ workflow: string; revoked: boolean }>("DELETE", `/workflows/${wfPath(name)}/webhook`),
};

export function eventsUrl(runId?: string): string {
  return `${BASE}/events${qs({ runId })}`;
}
