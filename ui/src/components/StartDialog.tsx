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
  const named = error ? paramsNamedIn(error) : new Set<string>();

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
      // The server checks the params (type, required, choices) and names each one that does not fit.
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
        noValidate /* the server's check is the one that counts, and it names each param */
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
          <label key={p.name} className="field" data-field={p.name}>
            <span className="field-name">
              {p.name}
              {p.required ? (
                <span className="required" title="required: a run must be given a value">
                  {" "}
                  * required
                </span>
              ) : null}
              {p.type && p.type !== "string" ? <span className="field-type"> {p.type}</span> : null}
            </span>
            {p.description ? <span className="small field-description">{p.description}</span> : null}
            <ParamInput
              param={p}
              value={values[p.name] ?? ""}
              onChange={(v) => setValues({ ...values, [p.name]: v })}
              locked={locked}
              invalid={named.has(p.name)}
              autoFocus={p === params[0]}
            />
            {p.default !== null && p.default !== "" ? (
              <span className="muted small">default: {p.default}</span>
            ) : null}
          </label>
        ))}
        {error ? (
          <div className="error-box" role="alert" data-testid="start-error">
            {error}
          </div>
        ) : null}
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

/** The field of one param: a choice for an enum or a boolean, a number box for a number. */
function ParamInput({
  param,
  value,
  onChange,
  locked,
  invalid,
  autoFocus,
}: {
  param: Param;
  value: string;
  onChange: (value: string) => void;
  locked: boolean;
  invalid: boolean;
  autoFocus: boolean;
}) {
  const common = {
    name: param.name,
    "data-param": param.name,
    "aria-invalid": invalid || undefined,
    className: invalid ? "invalid" : undefined,
    autoFocus,
  };
  const choices = param.enum?.length ? param.enum : param.type === "boolean" ? ["true", "false"] : null;
  if (choices) {
    // An empty choice when nothing is chosen yet, so the form never picks a value by itself.
    const blank = value === "" || !choices.includes(value);
    return (
      <select {...common} value={value} onChange={(e) => onChange(e.target.value)} disabled={locked}>
        {blank ? <option value={value}>{value === "" ? "— choose —" : value}</option> : null}
        {choices.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    );
  }
  const numeric = param.type === "integer" || param.type === "number";
  return (
    <input
      {...common}
      type={numeric ? "number" : "text"}
      step={param.type === "integer" ? 1 : numeric ? "any" : undefined}
      inputMode={param.type === "integer" ? "numeric" : numeric ? "decimal" : undefined}
      value={value}
      placeholder={param.default ?? ""}
      onChange={(e) => onChange(e.target.value)}
      readOnly={locked}
    />
  );
}

/** The params an error of the server names ("param COUNT is required; param MODE must be …"). */
function paramsNamedIn(error: string): Set<string> {
  return new Set([...error.matchAll(/\bparam ([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
}
