// The presets editor's logic: a form's quality mode, a one-line summary, a free name for a
// duplicate and the engine's problems sorted under their fields. Validation itself is the
// engine's (the same as every develop run); nothing here decides what is valid.
import type { PresetForm } from "./bindings/PresetForm";
import type { PresetProblem } from "./bindings/PresetProblem";
import { asProblems, byField } from "./problems";

export type { PresetEntry } from "./bindings/PresetEntry";
export type { PresetForm } from "./bindings/PresetForm";
export type { PresetList } from "./bindings/PresetList";
export type { PresetProblem } from "./bindings/PresetProblem";
export type { Preview } from "./bindings/Preview";

export const SUBSAMPLING = ["4:4:4", "4:2:2", "4:2:0"] as const;
export const METADATA = ["keep-all", "drop-gps", "drop-all"] as const;
export const EFFORT = ["fast", "small"] as const;
export const LOOK = ["camera", "neutral"] as const;

/** A new preset's starting point: a web-sized rendition by score. */
export function blank(name: string): PresetForm {
  return {
    name,
    long_edge: 2048,
    target_score: 75,
    jpeg_quality: null,
    subsampling: "4:2:0",
    metadata: "keep-all",
    effort: "small",
    look: "camera",
    exposure_ev: 0,
  };
}

export type QualityMode = "score" | "fixed";

export function qualityMode(form: PresetForm): QualityMode {
  return form.jpeg_quality !== null ? "fixed" : "score";
}

/** The form with the other way of setting quality, at a sensible value. */
export function withQualityMode(form: PresetForm, mode: QualityMode): PresetForm {
  if (mode === qualityMode(form)) return form;
  return mode === "fixed"
    ? { ...form, target_score: null, jpeg_quality: 85 }
    : { ...form, target_score: 75, jpeg_quality: null };
}

/** "2048 px · score 75 · fast", as the list shows a preset (the look and exposure when
 * they are not the defaults: "neutral", "+0.5 EV"). */
export function summary(form: PresetForm): string {
  const size = form.long_edge === null ? "full size" : `${form.long_edge} px`;
  const quality = form.jpeg_quality !== null ? `quality ${form.jpeg_quality}` : `score ${form.target_score ?? "?"}`;
  const metadata = form.metadata === "keep-all" ? [] : [form.metadata];
  const look = form.look === "camera" ? [] : [form.look];
  const exposure = form.exposure_ev === 0 ? [] : [`${form.exposure_ev > 0 ? "+" : ""}${form.exposure_ev} EV`];
  return [size, quality, form.effort, ...metadata, ...look, ...exposure].join(" · ");
}

/** `web-copy`, else `web-copy-2`, … : a name no preset has. */
export function copyName(name: string, taken: Iterable<string>): string {
  const names = new Set(taken);
  const base = `${name}-copy`.slice(0, 64);
  if (!names.has(base)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base}-${i}`;
    if (!names.has(candidate)) return candidate;
  }
}

/** The engine's problem, under its field; `general` when it names none. */
export function problems(problem: PresetProblem | null): Record<string, string> {
  return byField(problem ? [problem] : []);
}

/** A Tauri command's rejection as a problem (a string when the engine could not run). */
export function asProblem(error: unknown): PresetProblem {
  const [first] = asProblems(error);
  return first ?? { field: null, message: String(error) };
}
