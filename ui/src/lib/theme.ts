// Light, dark or as the system says. The system's preference comes from the Rust side (on
// Linux WebKitGTK never reports it to `prefers-color-scheme`); the photographer's choice is
// kept in the webview's storage, as it is only how this window looks.
export const CHOICES = ["system", "light", "dark"] as const;
export type Choice = (typeof CHOICES)[number];
export type Theme = "light" | "dark";

const KEY = "wedsync.theme";

/** The stored choice; `system` when none (or an unknown one) is stored. */
export function stored(storage: Pick<Storage, "getItem">): Choice {
  const value = storage.getItem(KEY);
  return CHOICES.find((c) => c === value) ?? "system";
}

export function store(storage: Pick<Storage, "setItem">, choice: Choice): void {
  storage.setItem(KEY, choice);
}

/** What to draw: the choice, or the system's theme (light when it is not known). */
export function resolve(choice: Choice, system: Theme | null): Theme {
  return choice === "system" ? (system ?? "light") : choice;
}

export function apply(root: HTMLElement, theme: Theme): void {
  root.dataset.theme = theme;
}
