// The engine's problems with a form, sorted under the fields they are about. Every form's
// validation is the engine's own; this only places its answers.

export interface Problem {
  field: string | null;
  message: string;
}

/** Each problem's message under its field; `general` for those that name none. */
export function byField(problems: readonly Problem[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const p of problems) fields[p.field ?? "general"] = p.message;
  return fields;
}

/**
 * A Tauri command's rejection as problems: one problem, a list of them, or a string (the
 * engine could not run at all).
 */
export function asProblems(error: unknown): Problem[] {
  const list = Array.isArray(error) ? error : [error];
  return list.map((e) => {
    if (typeof e === "object" && e !== null && "message" in e) {
      const p = e as { field?: string | null; message: unknown };
      return { field: p.field ?? null, message: String(p.message) };
    }
    return { field: null, message: String(e) };
  });
}
