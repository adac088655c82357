// What the tests build queues from.
import type { Totals } from "./lib/tauri";

/** Totals of a queue where nothing moves. */
export function quietTotals(overrides: Partial<Totals> = {}): Totals {
  return {
    uploads_verified: 0,
    uploads_left: 0,
    uploads_failed: 0,
    bytes_left: 0,
    files_waiting: 0,
    bytes_per_second: 0,
    eta_seconds: null,
    paused: false,
    unreachable: null,
    stopped: null,
    warnings: [],
    ...overrides,
  };
}
