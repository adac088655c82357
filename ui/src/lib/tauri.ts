// The only module that talks to Tauri: every engine intent and query the UI uses, as a
// typed function. Tests mock this module; the UI runs in a browser with it mocked too.
import { Channel, convertFileSrc, invoke } from "@tauri-apps/api/core";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { getCurrentWindow } from "@tauri-apps/api/window";
import type { Delta } from "./bindings/Delta";
import type { Message } from "./bindings/Message";
import type { Snapshot } from "./bindings/Snapshot";
import type { PresetForm } from "./bindings/PresetForm";
import type { PresetList } from "./bindings/PresetList";
import type { Preview } from "./bindings/Preview";
import type { CacheUsage } from "./bindings/CacheUsage";
import type { SettingsForm } from "./bindings/SettingsForm";
import type { SettingsView } from "./bindings/SettingsView";

export type { CardRow } from "./bindings/CardRow";
export type { Delta } from "./bindings/Delta";
export type { Row } from "./bindings/Row";
export type { Snapshot } from "./bindings/Snapshot";
export type { SourceRow } from "./bindings/SourceRow";
export type { Totals } from "./bindings/Totals";
export type { UploadProgress } from "./bindings/UploadProgress";

/** The whole queue, to draw from scratch (at start and after falling behind). */
export function snapshot(): Promise<Snapshot> {
  return invoke<Snapshot>("snapshot");
}

/**
 * Coalesced changes (at most ten a second) through one channel. `onLagged` is called
 * when the app dropped deltas for this subscriber: take a snapshot and go on.
 */
export async function subscribe(onDelta: (delta: Delta) => void, onLagged: () => void): Promise<void> {
  const channel = new Channel<Message>();
  channel.onmessage = (message) => (message.kind === "lagged" ? onLagged() : onDelta(message));
  await invoke("subscribe", { channel });
}

/** Files and folders to take in (folders are searched for camera files). */
export function addPaths(paths: string[]): Promise<void> {
  return invoke("add_paths", { paths });
}

/** Files (or folders) picked in the system's dialog, taken in; how many (0: cancelled). */
export function pickPaths(folders: boolean): Promise<number> {
  return invoke<number>("pick_paths", { folders });
}

export const presets = (): Promise<PresetList> => invoke<PresetList>("presets");
/** Rejects with a PresetProblem (the field and what to change). */
export const savePreset = (form: PresetForm, was: string | null): Promise<void> =>
  invoke("save_preset", { form, was });
export const deletePreset = (name: string): Promise<void> => invoke("delete_preset", { name });
export const usePresets = (names: string[]): Promise<void> => invoke("use_presets", { names });
/** The imported preset's name; null when the dialog was cancelled. */
export const importPreset = (): Promise<string | null> => invoke<string | null>("import_preset");
export const exportPreset = (name: string): Promise<string | null> => invoke<string | null>("export_preset", { name });
/** Rejects with a PresetProblem. */
export const previewPreset = (form: PresetForm): Promise<Preview> => invoke<Preview>("preview_preset", { form });

export const settings = (): Promise<SettingsView> => invoke<SettingsView>("settings");
/** Rejects with SettingProblem[] (each field and what to change); the saved view else. */
export const saveSettings = (form: SettingsForm): Promise<SettingsView> =>
  invoke<SettingsView>("save_settings", { form });
/** What is left in the cache after clearing what can be made again. */
export const clearCache = (): Promise<CacheUsage> => invoke<CacheUsage>("clear_cache");
/** Whether the app now starts at login. */
export const startAtLogin = (enabled: boolean): Promise<boolean> => invoke<boolean>("start_at_login", { enabled });

/** The URL of an asset's thumbnail (the app's `thumb` scheme: Rust finds the file). */
export const thumbnail = (asset: number): string => convertFileSrc(String(asset), "thumb");

export const pauseAll = (): Promise<void> => invoke("pause");
export const resumeAll = (): Promise<void> => invoke("resume");
export const retryFailed = (): Promise<void> => invoke("retry_failed");
export const pauseAsset = (asset: number): Promise<void> => invoke("pause_asset", { asset });
export const resumeAsset = (asset: number): Promise<void> => invoke("resume_asset", { asset });
export const cancelAsset = (asset: number): Promise<void> => invoke("cancel_asset", { asset });

/** Files and folders dropped on the window, as paths (the webview never opens them). */
export async function onDrop(take: (paths: string[]) => void): Promise<() => void> {
  return getCurrentWebview().onDragDropEvent((event) => {
    if (event.payload.type === "drop") {
      take(event.payload.paths);
    }
  });
}

/**
 * The system's light or dark preference as the Rust side reads it (the desktop's
 * settings), now and whenever it changes; null where the platform does not say.
 */
export async function onSystemTheme(take: (theme: "light" | "dark" | null) => void): Promise<() => void> {
  const window = getCurrentWindow();
  take(await window.theme());
  return window.onThemeChanged((event) => take(event.payload));
}
