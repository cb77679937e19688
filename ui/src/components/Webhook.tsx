// A workflow's webhook token on its page: whether it has one (made, last used — never the token),
// make or replace it (the new token is shown once, here), and revoke it.

import { useState } from "react";
import { api } from "../api";
import { useLoader } from "../hooks";
import { fmtTime } from "../format";
import { ErrorBox, Loading } from "./common";

type Asking = "replace" | "revoke" | null;

export function WebhookPanel({ name }: { name: string }) {
  const { data: hook, error, loading, reload } = useLoader(() => api.webhook(name), [name]);
  const [asking, setAsking] = useState<Asking>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  // The new token lives only in this component's state: the server never shows it again.
  const [fresh, setFresh] = useState<{ token: string; url: string } | null>(null);

  const act = async (fn: () => Promise<void>) => {
    setAsking(null);
    setBusy(true);
    setActionError(null);
    try {
      await fn();
      await reload();
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const create = () =>
    act(async () => {
      const made = await api.createWebhook(name);
      setFresh({ token: made.token, url: made.url });
    });
  const revoke = () =>
    act(async () => {
      await api.revokeWebhook(name);
      setFresh(null);
    });

  if (loading && !hook) return <Loading />;
  return (
    <div className="card" data-testid="webhook" data-has-token={!!hook}>
      <h3>Webhook</h3>
      <p className="muted small">
        Other systems (a Git host, another team's job) start runs of this workflow with a POST to its webhook,
        authenticated by this workflow's own token, which opens nothing else. The JSON body reaches the run as the param{" "}
        <code>WEBHOOK_PAYLOAD</code>; <code>webhook.params</code> in the YAML maps fields of it to params.
      </p>
      <ErrorBox error={error ?? actionError} />
      {hook ? (
        <div className="toolbar" data-testid="webhook-state">
          <span className="badge small s-ok">token set</span>
          <span className="small">
            made <span title={hook.createdAt ?? ""}>{fmtTime(hook.createdAt)}</span>
          </span>
          <span className="small" data-testid="webhook-last-used">
            last used{" "}
            {hook.lastUsedAt ? (
              <span title={hook.lastUsedAt}>{fmtTime(hook.lastUsedAt)}</span>
            ) : (
              <span className="muted">never</span>
            )}
          </span>
          <span className="mono small muted">POST {window.location.origin + hook.url}</span>
        </div>
      ) : error ? null : (
        <p data-testid="webhook-state">No token: this workflow cannot be started through its webhook.</p>
      )}
      {fresh ? <NewToken token={fresh.token} url={window.location.origin + fresh.url} onDone={() => setFresh(null)} /> : null}
      <div className="toolbar">
        {asking === "replace" ? (
          <span className="confirm" role="group" aria-label="confirm replace">
            <span className="small">Replace the token? The old one stops working at once.</span>
            <button className="danger" onClick={() => void create()} disabled={busy}>
              Yes, replace
            </button>
            <button onClick={() => setAsking(null)}>No</button>
          </span>
        ) : asking === "revoke" ? (
          <span className="confirm" role="group" aria-label="confirm revoke">
            <span className="small">Revoke the token? Calls with it are refused from now on.</span>
            <button className="danger" onClick={() => void revoke()} disabled={busy}>
              Yes, revoke
            </button>
            <button onClick={() => setAsking(null)}>No</button>
          </span>
        ) : hook ? (
          <>
            <button onClick={() => setAsking("replace")} disabled={busy}>
              Replace token
            </button>
            <button className="danger" onClick={() => setAsking("revoke")} disabled={busy}>
              Revoke
            </button>
          </>
        ) : (
          <button className="primary" onClick={() => void create()} disabled={busy || !!error}>
            Create token
          </button>
        )}
      </div>
    </div>
  );
}

/** The token just made, once: a box to copy it from, and a call that uses it. */
function NewToken({ token, url, onDone }: { token: string; url: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async (e: React.MouseEvent<HTMLButtonElement>) => {
    const box = e.currentTarget.parentElement?.querySelector("input");
    box?.select();
    try {
      await navigator.clipboard.writeText(token);
      setCopied(true);
    } catch {
      setCopied(false); // no clipboard here (not a secure context): the text is selected to copy by hand
    }
  };
  const curl = [
    `curl -X POST -H "Authorization: Bearer ${token}" \\`,
    `     -H 'Content-Type: application/json' -d '{"ref": "refs/heads/main"}' \\`,
    `     ${url}`,
  ].join("\n");
  return (
    <div className="notice new-token" data-testid="webhook-new-token">
      <strong>Copy the token now: it is not shown again.</strong>
      <div className="token-row">
        <input
          readOnly
          className="mono"
          value={token}
          aria-label="webhook token"
          data-testid="webhook-token"
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" onClick={(e) => void copy(e)}>
          {copied ? "✓ copied" : "Copy"}
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
      <div className="small muted">Call it like this (any JSON body):</div>
      <pre className="value" data-testid="webhook-curl">
        {curl}
      </pre>
    </div>
  );
}
