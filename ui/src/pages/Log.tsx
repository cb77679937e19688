import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { api } from "../api";
import { useLoader, useRunEvents, useThrottled } from "../hooks";
import { ErrorBox, Loading, logUrl, runUrl } from "../components/common";
import { StatusBadge, fmtBytes, shortId, stepStatus } from "../format";
import { Breadcrumbs, concerns } from "./Run";

const TAIL_LINES = 1000;
const CHUNK = 256 * 1024;
const KEEP = 4 * 1024 * 1024; // never hold more than this much text in the page
const SHOWN_LINES = 5000; // lines drawn at once; earlier ones held in the page on demand

/** A line with every match of ``needle`` (lower case) marked. */
function marked(line: string, needle: string): ReactNode {
  if (!needle) return line;
  const lower = line.toLowerCase();
  const parts: ReactNode[] = [];
  let at = 0;
  for (let hit = lower.indexOf(needle); hit >= 0; hit = lower.indexOf(needle, hit + needle.length)) {
    parts.push(line.slice(at, hit), <mark key={hit}>{line.slice(hit, hit + needle.length)}</mark>);
    at = hit + needle.length;
  }
  parts.push(line.slice(at));
  return parts;
}

interface View {
  text: string;
  start: number; // byte offset of text's first byte in the file
  end: number; // byte offset just past the text
  size: number;
}

interface Cap {
  cap: number | null; // bytes kept of each stream of an attempt
  cut: boolean; // this log reached it
}

/** One step's log: its last lines first, earlier parts on demand, and a live tail while it runs. */
export function LogPage() {
  const { runId = "", step = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const stream = search.get("stream") === "stderr" ? "stderr" : "stdout";
  const attempt = search.get("attempt") ?? undefined;
  const attemptNo = attempt === undefined ? undefined : Number(attempt); // as the API takes it
  const run = useLoader(() => api.run(runId), [runId]);
  const refreshRun = useThrottled(() => void run.reload(), 300);
  useRunEvents({ accept: concerns(runId), onEvent: refreshRun }, [runId]);
  const rec = run.data?.steps.find((s) => s.name === step) ?? null;
  const latestAttempt = !attempt || Number(attempt) === rec?.attempt;
  const running = rec?.status === "running" && latestAttempt;

  const [view, setView] = useState<View | null>(null);
  const [cap, setCap] = useState<Cap>({ cap: null, cut: false });
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(true);
  const [streaming, setStreaming] = useState(false);
  const [wrap, setWrap] = useState(false);
  const [numbers, setNumbers] = useState(true);
  const [query, setQuery] = useState("");
  const [shownLines, setShownLines] = useState(SHOWN_LINES);
  const [hit, setHit] = useState(0);
  const pre = useRef<HTMLPreElement>(null);
  const lines = useMemo(() => {
    const all = (view?.text ?? "").split("\n");
    if (all.length > 1 && all[all.length - 1] === "") all.pop(); // the last line's newline
    return all;
  }, [view?.text]);
  const firstShown = Math.max(0, lines.length - shownLines);
  const needle = query.trim().toLowerCase();
  const matches = useMemo(
    () => (needle ? lines.slice(firstShown).reduce((n, l) => n + l.toLowerCase().split(needle).length - 1, 0) : 0),
    [lines, firstShown, needle],
  );
  const nextMatch = () => {
    const marks = pre.current?.querySelectorAll("mark");
    if (!marks || marks.length === 0) return;
    const index = hit % marks.length;
    setFollow(false);
    marks[index].scrollIntoView({ block: "center" });
    setHit(index + 1);
  };

  const load = async (q: Record<string, string | number | undefined>) => {
    try {
      setError(null);
      const c = await api.log(runId, step, { stream, attempt: attemptNo, ...q });
      setView({ text: c.content, start: c.offset, end: c.nextOffset, size: c.size });
      setCap({ cap: c.cap ?? null, cut: c.cut ?? false });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  useEffect(() => {
    setView(null);
    void load({ tail: TAIL_LINES });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId, step, stream, attempt]);

  // Live tail: the server streams what is appended after the offset we have.
  const end = view?.end ?? null;
  const haveView = view !== null;
  useEffect(() => {
    if (!running || !haveView) return;
    const es = new EventSource(api.logStreamUrl(runId, step, { stream, attempt, offset: end ?? 0 }));
    setStreaming(true);
    es.addEventListener("log", (m) => {
      // Each event is a window of the file ({content, offset, nextOffset, size}); plain text is taken too.
      const raw = (m as MessageEvent<string>).data;
      let chunk = raw;
      let next: number | null = null;
      let size: number | null = null;
      try {
        const w = JSON.parse(raw) as { content?: unknown; nextOffset?: number; size?: number };
        if (w && typeof w === "object" && typeof w.content === "string") {
          chunk = w.content;
          next = typeof w.nextOffset === "number" ? w.nextOffset : null;
          size = typeof w.size === "number" ? w.size : null;
        }
      } catch {
        /* plain text */
      }
      setView((v) => {
        if (!v) return v;
        const end = next ?? v.end + new TextEncoder().encode(chunk).length;
        let text = v.text + chunk;
        let start = v.start;
        if (text.length > KEEP) {
          const cut = text.length - KEEP;
          start += new TextEncoder().encode(text.slice(0, cut)).length;
          text = text.slice(cut);
        }
        return { text, start, end, size: Math.max(size ?? 0, v.size, end) };
      });
    });
    es.addEventListener("end", () => {
      es.close();
      setStreaming(false);
    });
    es.onerror = () => {
      // The step ended or the connection dropped: read what is there with a ranged request.
      es.close();
      setStreaming(false);
    };
    return () => {
      es.close();
      setStreaming(false);
    };
    // Opened once per running step; `end` is only the starting offset.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [running, haveView, runId, step, stream, attempt]);

  // When the step finishes, pick up anything the stream did not deliver.
  const wasRunning = useRef(running);
  useEffect(() => {
    if (wasRunning.current && !running && view) {
      void api
        .log(runId, step, { stream, attempt: attemptNo, offset: view.end, limit: CHUNK })
        .then((c) => {
          if (c.content) setView((v) => (v ? { ...v, text: v.text + c.content, end: c.nextOffset, size: c.size } : v));
        })
        .catch(() => undefined);
    }
    wasRunning.current = running;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [running]);

  useLayoutEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [view?.text, follow]);

  const earlier = async () => {
    if (!view || view.start <= 0) return;
    const from = Math.max(0, view.start - CHUNK);
    try {
      const c = await api.log(runId, step, { stream, attempt: attemptNo, offset: from, limit: view.start - from });
      setFollow(false);
      setView((v) => (v ? { ...v, text: c.content + v.text, start: from } : v));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const setStream = (s: string) => {
    const q = new URLSearchParams(search);
    q.set("stream", s);
    setSearch(q, { replace: true });
  };

  return (
    <div className="log-page">
      {run.data ? (
        <Breadcrumbs
          run={run.data}
          tail={
            <>
              <Link to={runUrl(runId)}>
                {run.data.name} <span className="mono muted">{shortId(runId)}</span>
              </Link>
              {" › "}
              <Link to={`${runUrl(runId)}#step-${encodeURIComponent(step)}`}>{step}</Link>
              {" › "}
              <span className="current">log</span>
            </>
          }
        />
      ) : null}
      <div className="page-head">
        <div>
          <h1>
            {step} <span className="muted">· {stream}</span>
            {attempt ? <span className="muted"> · attempt {attempt}</span> : null}
          </h1>
          <div className="head-meta">
            {rec && run.data ? <StatusBadge status={stepStatus(rec, run.data.status)} title={rec.error} /> : null}
            {streaming ? <span className="live on">● live tail</span> : null}
            {view ? (
              <span className="muted small">
                showing bytes {view.start.toLocaleString()}–{view.end.toLocaleString()} of {view.size.toLocaleString()}
              </span>
            ) : null}
            {cap.cap !== null ? (
              <span className="muted small" data-testid="log-cap" title="logs.maxStepLogSize in config.yaml">
                cap {fmtBytes(cap.cap)} per attempt
              </span>
            ) : null}
          </div>
        </div>
      </div>
      <div className="toolbar">
        <div className="seg">
          <button className={stream === "stdout" ? "active" : ""} onClick={() => setStream("stdout")}>
            stdout
          </button>
          <button className={stream === "stderr" ? "active" : ""} onClick={() => setStream("stderr")}>
            stderr
          </button>
        </div>
        <button onClick={() => void earlier()} disabled={!view || view.start <= 0}>
          ↑ load earlier
        </button>
        <button onClick={() => void load({ head: TAIL_LINES })}>⤒ beginning</button>
        <button onClick={() => void load({ tail: TAIL_LINES }).then(() => setFollow(true))}>⤓ end</button>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
        </label>
        <label>
          <input type="checkbox" checked={wrap} onChange={(e) => setWrap(e.target.checked)} /> wrap
        </label>
        <label>
          <input type="checkbox" checked={numbers} onChange={(e) => setNumbers(e.target.checked)} /> line numbers
        </label>
        <input
          className="search"
          type="search"
          placeholder="search the log"
          value={query}
          aria-label="search the log"
          onChange={(e) => {
            setQuery(e.target.value);
            setHit(0);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") nextMatch();
          }}
        />
        {needle ? (
          <span className="small nowrap" data-testid="log-matches">
            {matches} {matches === 1 ? "match" : "matches"}{" "}
            <button className="small-btn" onClick={nextMatch} disabled={!matches}>
              next
            </button>
          </span>
        ) : null}
        <span className="spacer" />
        <a
          href={`/api/v1/runs/${encodeURIComponent(runId)}/steps/${encodeURIComponent(step)}/log/raw?stream=${stream}${attempt ? `&attempt=${attempt}` : ""}`}
          className="small"
          download
        >
          ⬇ download
        </a>
        {rec && rec.attempt > 1 && !attempt ? (
          <Link className="small" to={logUrl(runId, step, `?stream=${stream}&attempt=1`)}>
            first attempt
          </Link>
        ) : null}
      </div>
      <ErrorBox error={error ?? run.error} />
      {cap.cut && cap.cap !== null ? (
        <div className="notice warn" data-testid="log-cut">
          This log reached its cap of {fmtBytes(cap.cap)} and was cut there; the step went on, and what it wrote
          after was not kept.
        </div>
      ) : null}
      {!view && !error ? <Loading /> : null}
      {view ? (
        <pre
          className={`log${wrap ? " wrap" : ""}${numbers ? " numbered" : ""}`}
          ref={pre}
          data-testid="log"
          onScroll={(e) => {
            const el = e.currentTarget;
            const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
            if (!atBottom && follow) setFollow(false);
          }}
        >
          {view.start > 0 ? <span className="muted">… {view.start.toLocaleString()} earlier bytes not loaded …{"\n"}</span> : null}
          {firstShown > 0 ? (
            <button className="small-btn earlier-lines" onClick={() => setShownLines(shownLines + SHOWN_LINES)}>
              show {Math.min(SHOWN_LINES, firstShown).toLocaleString()} earlier lines (of {firstShown.toLocaleString()} held)
            </button>
          ) : null}
          {view.text
            ? lines.slice(firstShown).map((line, i) => (
                <span className="line" key={firstShown + i} data-n={firstShown + i + 1}>
                  {marked(line, needle)}
                  {"\n"}
                </span>
              ))
            : <span className="muted">(empty)</span>}
        </pre>
      ) : null}
    </div>
  );
}
