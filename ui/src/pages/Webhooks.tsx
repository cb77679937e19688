import { useState } from "react";
import { Link } from "react-router";
import { api, type Webhook } from "../api";
import { useLoader } from "../hooks";
import { ErrorBox, Loading, wfUrl } from "../components/common";
import { fmtTime } from "../format";

/** Every workflow that other systems can start through its webhook: when its token was made
 * and last used (never the token), a link to its Webhook tab to replace it, and revoke. */
export function WebhooksPage() {
  const { data, error, reload } = useLoader(() => api.webhooks(), []);
  const [asking, setAsking] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const hooks = data?.webhooks ?? [];
  const revoke = async (name: string) => {
    setAsking(null);
    setActionError(null);
    try {
      await api.revokeWebhook(name);
    } catch (e) {
      setActionError(e instanceof Error ? e.message : String(e));
    }
    await reload();
  };
  return (
    <div>
      <div className="page-head">
        <h1>Webhooks</h1>
        {data ? <span className="muted small">{hooks.length} with a token</span> : null}
      </div>
      <ErrorBox error={error ?? actionError} />
      {!data && !error ? <Loading /> : null}
      {data && hooks.length === 0 ? (
        <p className="muted">
          No workflow has a webhook token. Make one on a workflow's Webhook tab, or with{" "}
          <code>plait webhook create NAME</code>.
        </p>
      ) : null}
      {hooks.length > 0 ? (
        <table className="table" data-testid="webhooks">
          <thead>
            <tr>
              <th>Workflow</th>
              <th>Made</th>
              <th>Last used</th>
              <th>Called at</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {hooks.map((h) => (
              <HookRow key={h.workflow} hook={h} asking={asking === h.workflow} ask={setAsking} revoke={revoke} />
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function HookRow({
  hook,
  asking,
  ask,
  revoke,
}: {
  hook: Webhook;
  asking: boolean;
  ask: (name: string | null) => void;
  revoke: (name: string) => Promise<void>;
}) {
  return (
    <tr data-webhook={hook.workflow}>
      <td>
        <Link to={wfUrl(hook.workflow, null, "webhook")} className="strong">
          {hook.workflow}
        </Link>
      </td>
      <td className="small" title={hook.createdAt ?? ""}>
        {fmtTime(hook.createdAt)}
      </td>
      <td className="small" title={hook.lastUsedAt ?? ""} data-testid="webhook-last-used">
        {hook.lastUsedAt ? fmtTime(hook.lastUsedAt) : <span className="muted">never</span>}
      </td>
      <td className="mono small muted">POST {hook.url}</td>
      <td>
        {asking ? (
          <span className="confirm" role="group" aria-label="confirm revoke">
            <span className="small">Revoke? Calls with it are refused from now on.</span>
            <button className="danger" onClick={() => void revoke(hook.workflow)}>
              Yes, revoke
            </button>
            <button onClick={() => ask(null)}>No</button>
          </span>
        ) : (
          <button className="danger small" onClick={() => ask(hook.workflow)}>
            Revoke
          </button>
        )}
      </td>
    </tr>
  );
}
