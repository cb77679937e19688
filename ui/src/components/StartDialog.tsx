import { useState } from "react";
import { useNavigate } from "react-router";
import { api, type Param } from "../api";

/** Start (or enqueue) a workflow with a form built from its declared params. */
export function StartDialog({
  workflow,
  file,
  params,
  locked = false,
  onClose,
}: {
  workflow: string;
  /** The workflow's file relative to the DAGs folder, when known. */
  file?: string | null;
  params: Param[];
  /** runConfig.disableParamEdit: the run starts with the declared params. */
  locked?: boolean;
  onClose: () => void;
}) {
  const navigate = useNavigate();
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(params.map((p) => [p.name, p.default ?? ""])),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (mode: "start" | "enqueue") => {
    setBusy(true);
    setError(null);
    try {
      // Send only what differs from the defaults, so the workflow's own defaults apply.
      const changed: Record<string, string> = {};
      for (const p of params) if ((values[p.name] ?? "") !== (p.default ?? "")) changed[p.name] = values[p.name];
      const res = mode === "start" ? await api.start(workflow, changed, file) : await api.enqueue(workflow, changed, file);
      onClose();
      navigate(`/runs/${encodeURIComponent(res.runId)}`);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" onClick={onClose}>
      <form
        className="modal"
        role="dialog"
        aria-label={`Start ${workflow}`}
        onClick={(e) => e.stopPropagation()}
        onSubmit={(e) => {
          e.preventDefault();
          void submit("start");
        }}
      >
        <h2>Start {workflow}</h2>
        {params.length === 0 ? <p className="muted">This workflow declares no params.</p> : null}
        {locked && params.length ? (
          <p className="muted small" data-testid="params-locked">
            This workflow's params cannot be changed here (runConfig.disableParamEdit).
          </p>
        ) : null}
        {params.map((p) => (
          <label key={p.name} className="field">
            <span className="field-name">{p.name}</span>
            <input
              name={p.name}
              data-param={p.name}
              value={values[p.name] ?? ""}
              placeholder={p.default ?? ""}
              onChange={(e) => setValues({ ...values, [p.name]: e.target.value })}
              readOnly={locked}
              autoFocus={p === params[0]}
            />
            {p.default !== null && p.default !== "" ? (
              <span className="muted small">default: {p.default}</span>
            ) : null}
          </label>
        ))}
        {error ? <div className="error-box">{error}</div> : null}
        <div className="modal-actions">
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="button" onClick={() => void submit("enqueue")} disabled={busy} title="put it in its queue">
            Enqueue
          </button>
          <button type="submit" className="primary" disabled={busy}>
            ▶ Start
          </button>
        </div>
      </form>
    </div>
  );
}
