// The settings screen's logic: the form a view starts, what the token and the cache are
// said to be, and the engine's problems under their fields. What is valid is the engine's
// to say (the same checks as config.toml gets); the token never comes back from Rust.
import * as format from "./format";
import type { CacheUsage } from "./bindings/CacheUsage";
import type { SettingsForm } from "./bindings/SettingsForm";
import type { SettingsView } from "./bindings/SettingsView";

export type { SettingsForm } from "./bindings/SettingsForm";
export type { SettingsView } from "./bindings/SettingsView";
export type { CacheUsage } from "./bindings/CacheUsage";

export const BACKENDS = ["auto", "cuda", "wgpu", "cpu"] as const;

/** The form for `view`: its settings, the kept token left as it is (null). */
export function formOf(view: SettingsView): SettingsForm {
  return { preferences: { ...view.preferences }, token: null };
}

/** The form to send: a token field left empty keeps the kept token; `forget` clears it. */
export function toSend(form: SettingsForm, typed: string, forget: boolean): SettingsForm {
  const token = forget ? "" : typed.trim() === "" ? null : typed.trim();
  return { preferences: { ...form.preferences }, token };
}

/** What the screen says of the token: where it is kept, or what to do. */
export function tokenNote(view: SettingsView): string {
  if (view.token_trouble) return `${view.token_trouble}. Start it, then save again.`;
  if (view.token_in_file) return `config.toml holds the token in plain text: Save moves it into ${view.token_store}.`;
  if (view.token_kept) return `A token is kept in ${view.token_store}. Type a new one to replace it.`;
  if (view.preferences.endpoint === "") return "Enter the platform's address and the token it gave you.";
  return `No token kept for this address: paste the one the platform gave you (kept in ${view.token_store}).`;
}

/** "1.2 GB, of which 340 MB waits to be sent (kept)". */
export function cacheNote(usage: CacheUsage | null): string {
  if (!usage) return "Start the app's engine (set a destination) to see the cache.";
  const held = usage.held > 0 ? `, of which ${format.bytes(usage.held)} waits to be sent (kept when cleared)` : "";
  return `${format.bytes(usage.bytes)}${held}`;
}
