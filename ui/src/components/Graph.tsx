import { useMemo } from "react";
import dagre from "@dagrejs/dagre";
import {
  Background,
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  ReactFlowProvider,
  type Edge,
  type Node,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import type { ChildRef, RunStatus, StepRecord } from "../api";
import { fmtDuration, span, statusInfo, stepStatus } from "../format";

export interface GraphStep {
  name: string;
  depends: string[];
  run?: string | null;
  parallel?: unknown;
  command?: string | null;
  description?: string | null;
}

export interface Progress {
  total: number;
  ok: number;
  failed: number;
  running: number;
  other: number;
}

/** A step's items by status: from the run's counts (all of its children, however many),
 * else from the children in hand. */
export function progressOf(
  children: ChildRef[],
  step: string,
  counts?: Record<string, Record<string, number>>,
): Progress | null {
  const counted = counts?.[step];
  if (counted && Object.keys(counted).length) return progressFromCounts(counted);
  const mine = children.filter((c) => c.step === step);
  if (mine.length === 0) return null;
  const p: Progress = { total: mine.length, ok: 0, failed: 0, running: 0, other: 0 };
  for (const c of mine) {
    if (c.status === "succeeded") p.ok++;
    else if (c.status === "failed") p.failed++;
    else if (c.status === "running" || c.status === "queued") p.running++;
    else p.other++;
  }
  return p;
}

export function progressFromCounts(counts: Record<string, number>): Progress {
  const p: Progress = { total: 0, ok: 0, failed: 0, running: 0, other: 0 };
  for (const [status, n] of Object.entries(counts)) {
    p.total += n;
    if (status === "succeeded") p.ok += n;
    else if (status === "failed") p.failed += n;
    else if (status === "running" || status === "queued") p.running += n;
    else p.other += n;
  }
  return p;
}

export function fmtProgress(p: Progress): string {
  const parts = [`${p.ok}/${p.total} ✓`, `${p.failed} ✗`];
  if (p.running) parts.push(`${p.running} running`);
  if (p.other) parts.push(`${p.other} other`);
  return parts.join(" · ");
}

interface StepNodeData extends Record<string, unknown> {
  step: GraphStep;
  record: StepRecord | null;
  runStatus: RunStatus | null;
  progress: Progress | null;
  now: number;
}

const NODE_W = 230;
const NODE_H = 76;

function StepNode({ data }: NodeProps<Node<StepNodeData>>) {
  const { step, record, runStatus, progress, now } = data;
  const st = record ? stepStatus(record, runStatus ?? "running") : "not_started";
  const info = statusInfo(record ? st : "none");
  const running = record?.status === "running";
  const parallel = step.parallel !== null && step.parallel !== undefined;
  const dur = record ? span(record.startedAt, record.finishedAt, now, running) : null;
  return (
    <div
      className={`gnode ${info.cls}${parallel ? " stack" : ""}${running ? " is-running" : ""}`}
      title={record?.error ?? step.description ?? step.command ?? undefined}
      data-step={step.name}
    >
      <Handle type="target" position={Position.Left} />
      <div className="gnode-title">
        <span className={running ? "spin" : undefined}>{info.icon}</span> {step.name}
      </div>
      <div className="gnode-meta">
        {step.run ? (
          <span className="tag sub" title={`runs workflow ${step.run}`}>
            ⇢ {step.run}
          </span>
        ) : null}
        {parallel ? (
          <span className="tag par" title="parallel: one run per item">
            ∥ parallel{progress ? ` ×${progress.total}` : ""}
          </span>
        ) : null}
        {record ? <span className="muted">{record.status === "not_started" ? "" : fmtDuration(dur)}</span> : null}
      </div>
      {progress ? <div className="gnode-progress">{fmtProgress(progress)}</div> : null}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

const nodeTypes = { step: StepNode };

/** Dependencies as drawn: explicit `depends`, or, for a chain, the step before. */
export function edgesOf(steps: GraphStep[], type: string | null | undefined): [string, string][] {
  const names = new Set(steps.map((s) => s.name));
  const out: [string, string][] = [];
  steps.forEach((s, i) => {
    const deps = s.depends ?? [];
    if (deps.length > 0) {
      for (const d of deps) if (names.has(d)) out.push([d, s.name]);
    } else if ((type ?? "chain") === "chain" && i > 0) {
      out.push([steps[i - 1].name, s.name]);
    }
  });
  return out;
}

export function Graph(props: {
  steps: GraphStep[];
  type?: string | null;
  records?: StepRecord[];
  children?: ChildRef[];
  childCounts?: Record<string, Record<string, number>>;
  runStatus?: RunStatus | null;
  now?: number;
  onStepClick?: (step: string) => void;
}) {
  const { steps, type, records, children, childCounts, runStatus, onStepClick } = props;
  const now = props.now ?? Date.now();
  const layout = useMemo(() => {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "LR", nodesep: 28, ranksep: 60, marginx: 10, marginy: 10 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const s of steps) g.setNode(s.name, { width: NODE_W, height: NODE_H });
    const edges = edgesOf(steps, type);
    for (const [a, b] of edges) g.setEdge(a, b);
    dagre.layout(g);
    const pos: Record<string, { x: number; y: number }> = {};
    for (const s of steps) {
      const n = g.node(s.name) as { x: number; y: number } | undefined;
      pos[s.name] = n ? { x: n.x - NODE_W / 2, y: n.y - NODE_H / 2 } : { x: 0, y: 0 };
    }
    const gl = g.graph() as { width?: number; height?: number };
    return { pos, edges, width: gl.width ?? 400, height: gl.height ?? 120 };
  }, [steps, type]);

  const byName = useMemo(() => {
    const m: Record<string, StepRecord> = {};
    for (const r of records ?? []) m[r.name] = r;
    return m;
  }, [records]);

  const nodes: Node<StepNodeData>[] = steps.map((s) => ({
    id: s.name,
    type: "step",
    position: layout.pos[s.name],
    data: {
      step: s,
      record: byName[s.name] ?? null,
      runStatus: runStatus ?? null,
      progress: s.parallel !== null && s.parallel !== undefined ? progressOf(children ?? [], s.name, childCounts) : null,
      now,
    },
    draggable: false,
    connectable: false,
    // Known from the layout: nodes stay visible while React Flow measures them again after
    // each live update (it hides nodes whose size it does not know).
    initialWidth: NODE_W,
    initialHeight: NODE_H,
  }));
  const edges: Edge[] = layout.edges.map(([a, b]) => {
    const st = byName[a]?.status;
    return {
      id: `${a}->${b}`,
      source: a,
      target: b,
      animated: st === "running",
      markerEnd: { type: MarkerType.ArrowClosed, width: 16, height: 16 },
      style: { strokeWidth: 1.5 },
    };
  });
  // Tall enough for the whole graph, never a fixed small box; the user can resize it.
  // (fitView pads by 15% a side and may zoom to 1.1: leave room for both.)
  const height = Math.max(200, Math.min(Math.ceil(layout.height * 1.45) + 20, 640));
  return (
    <div className="graph" style={{ height }} data-testid="graph">
      <ReactFlowProvider>
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          fitView
          fitViewOptions={{ padding: 0.15, maxZoom: 1.1 }}
          minZoom={0.1}
          maxZoom={2}
          nodesDraggable={false}
          nodesConnectable={false}
          proOptions={{ hideAttribution: true }}
          onNodeClick={(_, n) => onStepClick?.(n.id)}
        >
          <Background gap={18} size={1} />
          <Controls showInteractive={false} />
        </ReactFlow>
      </ReactFlowProvider>
    </div>
  );
}
