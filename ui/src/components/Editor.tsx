import { useEffect, useRef } from "react";
import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { yaml } from "@codemirror/lang-yaml";
import { linter, lintGutter, type Diagnostic } from "@codemirror/lint";
import { autocompletion, type CompletionContext } from "@codemirror/autocomplete";
import { api, type Problem } from "../api";

/** Field names of the dialect, from the server's JSON Schema, offered as completions. */
function schemaCompletions(schema: Record<string, unknown> | null) {
  const top = new Set<string>();
  const step = new Set<string>();
  const visit = (node: unknown, into: Set<string>, depth: number) => {
    if (!node || typeof node !== "object" || depth > 6) return;
    const n = node as Record<string, unknown>;
    if (n.properties && typeof n.properties === "object") for (const k of Object.keys(n.properties)) into.add(k);
    for (const key of ["anyOf", "oneOf", "allOf"]) if (Array.isArray(n[key])) for (const x of n[key] as unknown[]) visit(x, into, depth + 1);
  };
  if (schema) {
    visit(schema, top, 0);
    const defs = (schema.$defs ?? schema.definitions ?? {}) as Record<string, unknown>;
    const stepDef = Object.entries(defs).find(([k]) => k.toLowerCase().includes("step"));
    if (stepDef) visit(stepDef[1], step, 0);
  }
  return (ctx: CompletionContext) => {
    const word = ctx.matchBefore(/^\s*(- )?[A-Za-z_]*$/);
    if (!word || (word.from === word.to && !ctx.explicit)) return null;
    const line = ctx.state.doc.lineAt(ctx.pos);
    const indented = /^\s+/.test(line.text) || /^\s*-/.test(line.text);
    const names = indented && step.size ? step : top;
    const m = /[A-Za-z_]*$/.exec(word.text)!;
    return {
      from: ctx.pos - m[0].length,
      options: [...names].map((label) => ({ label, type: "property", apply: `${label}: ` })),
    };
  };
}

export function YamlEditor({
  initial,
  schema,
  onChange,
  onProblems,
  onSave,
}: {
  initial: string;
  schema: Record<string, unknown> | null;
  onChange: (text: string) => void;
  onProblems: (p: Problem[] | null, valid: boolean | null) => void;
  onSave?: () => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const cbs = useRef({ onChange, onProblems, onSave });
  cbs.current = { onChange, onProblems, onSave };

  useEffect(() => {
    // Validate as you type: the server's validator, its problems shown at their line.
    const validate = linter(
      async (view) => {
        const text = view.state.doc.toString();
        try {
          const res = await api.validate(text);
          cbs.current.onProblems(res.problems ?? [], res.valid);
          return (res.problems ?? []).map((p): Diagnostic => {
            const n = Math.min(Math.max(p.line ?? 1, 1), view.state.doc.lines);
            const line = view.state.doc.line(n);
            return {
              from: line.from,
              to: Math.max(line.to, line.from),
              severity: "error",
              message: p.field ? `${p.field}: ${p.message}` : p.message,
            };
          });
        } catch (e) {
          cbs.current.onProblems([{ line: null, field: null, message: `validation failed: ${String(e)}` }], null);
          return [];
        }
      },
      { delay: 350 },
    );
    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: initial,
        extensions: [
          basicSetup,
          yaml(),
          lintGutter(),
          validate,
          autocompletion({ override: [schemaCompletions(schema)] }),
          keymap.of([
            {
              key: "Mod-s",
              preventDefault: true,
              run: () => {
                cbs.current.onSave?.();
                return true;
              },
            },
          ]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) cbs.current.onChange(u.state.doc.toString());
          }),
          EditorView.theme({ "&": { height: "100%" }, ".cm-scroller": { fontFamily: "var(--mono)" } }),
        ],
      }),
    });
    return () => view.destroy();
    // The editor owns its text once created; a new `initial` means a new editor.
  }, [initial, schema]);

  return <div className="editor" ref={host} data-testid="yaml-editor" />;
}
