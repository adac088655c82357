import { describe, expect, it } from "vitest";
import { cacheNote, formOf, toSend, tokenNote } from "./settings";
import { asProblems, byField } from "./problems";
import type { SettingsView } from "./bindings/SettingsView";

const view: SettingsView = {
  preferences: { endpoint: "https://ingest.example/files", streams: 4, limit_mbit: 0, backend: "auto" },
  token_kept: true,
  token_store: "the Secret Service keyring",
  token_trouble: null,
  token_in_file: false,
  backends: [],
  backend_in_use: "cpu: no usable GPU backend was found",
  cache_folder: "/home/p/.local/share/wedsync/cache",
  cache: { bytes: 3_000_000, held: 1_000_000 },
  start_at_login: false,
  config_file: "/home/p/.local/share/wedsync/config.toml",
};

describe("settings", () => {
  it("keeps the kept token unless a new one is typed or it is forgotten", () => {
    const form = formOf(view);
    expect(form.token).toBeNull();
    expect(toSend(form, "   ", false).token).toBeNull();
    expect(toSend(form, " wst_new ", false).token).toBe("wst_new");
    expect(toSend(form, "wst_new", true).token).toBe("");
    form.preferences.streams = 8;
    expect(view.preferences.streams).toBe(4);
  });

  it("says where the token is, or what to do", () => {
    expect(tokenNote(view)).toContain("kept in the Secret Service keyring");
    expect(tokenNote({ ...view, token_in_file: true })).toContain("plain text");
    expect(tokenNote({ ...view, token_kept: false })).toContain("paste");
    expect(tokenNote({ ...view, token_kept: false, preferences: { ...view.preferences, endpoint: "" } })).toContain(
      "address",
    );
    expect(tokenNote({ ...view, token_trouble: "the system keyring could not be used" })).toContain("save again");
  });

  it("says how much of the cache is held for uploads", () => {
    expect(cacheNote(view.cache)).toBe("3.0 MB, of which 1.0 MB waits to be sent (kept when cleared)");
    expect(cacheNote({ bytes: 0, held: 0 })).toBe("0 B");
    expect(cacheNote(null)).toContain("destination");
  });

  it("puts the engine's problems under their fields", () => {
    const problems = asProblems([
      { field: "endpoint", message: "starts with https://" },
      { field: "streams", message: "between 1 and 32" },
    ]);
    expect(byField(problems)).toEqual({ endpoint: "starts with https://", streams: "between 1 and 32" });
    expect(byField(asProblems("the engine is down"))).toEqual({ general: "the engine is down" });
  });
});
