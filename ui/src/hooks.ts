import { useCallback, useEffect, useRef, useState } from "react";
import { eventsUrl, type RunEvent } from "./api";

/** Loads data with `load`, and reloads it whenever `reload()` is called. */
export function useLoader<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(() => {
    const mine = ++seq.current;
    return loadRef
      .current()
      .then((d) => {
        if (mine === seq.current) {
          setData(d);
          setError(null);
        }
      })
      .catch((e: unknown) => {
        if (mine === seq.current) setError(e instanceof Error ? e.message : String(e));
      })
      .finally(() => {
        if (mine === seq.current) setLoading(false);
      });
  }, []);

  useEffect(() => {
    setLoading(true);
    setData(null);
    setError(null);
    void reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { data, error, loading, reload, setData };
}

/**
 * Subscribes to the server's run-status stream (SSE). `onEvent` is called for each
 * `run` event that `accept` lets through; `onReconnect` after the stream came back
 * from an interruption (events may have been missed, so reload).
 */
export function useRunEvents(
  opts: {
    runId?: string;
    accept?: (e: RunEvent) => boolean;
    onEvent: (e: RunEvent) => void;
    enabled?: boolean;
  },
  deps: unknown[],
) {
  const cb = useRef(opts);
  cb.current = opts;
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    if (opts.enabled === false) return;
    const es = new EventSource(eventsUrl(opts.runId));
    let broken = false;
    es.onopen = () => {
      setConnected(true);
      if (broken) {
        broken = false;
        cb.current.onEvent({ runId: "", name: "", status: "running", steps: [], parentRunId: null });
      }
    };
    es.onerror = () => {
      broken = true;
      setConnected(false);
    };
    es.addEventListener("run", (msg) => {
      let e: RunEvent;
      try {
        e = JSON.parse((msg as MessageEvent<string>).data) as RunEvent;
      } catch {
        return;
      }
      const accept = cb.current.accept;
      if (!accept || accept(e)) cb.current.onEvent(e);
    });
    return () => {
      es.close();
      setConnected(false);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [opts.runId, opts.enabled, ...deps]);
  return connected;
}

/** Calls fn at most once per `ms`, and always once after the last call (trailing). */
export function useThrottled(fn: () => void, ms: number): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const timer = useRef<number | null>(null);
  const last = useRef(0);
  useEffect(
    () => () => {
      if (timer.current !== null) window.clearTimeout(timer.current);
    },
    [],
  );
  return useCallback(() => {
    if (timer.current !== null) return;
    const wait = Math.max(0, ms - (Date.now() - last.current));
    timer.current = window.setTimeout(() => {
      timer.current = null;
      last.current = Date.now();
      fnRef.current();
    }, wait);
  }, [ms]);
}

/** Re-renders every `ms` while `active` — only a clock for elapsed times, no network. */
export function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [active, ms]);
  return now;
}
