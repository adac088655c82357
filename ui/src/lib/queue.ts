// The queue as the UI holds it: rows by asset in a plain Map (not deep reactive state:
// 10,000 rows with progress streaming in would make every field a signal), an ordered
// list of what the filter lets through, and a version number the components watch.
import type { Delta, Row, Snapshot, Totals } from "./tauri";

/** The states a row can be in, in the order the filter offers them. */
export const STATES = ["developing", "queued", "sending", "paused", "waiting", "failed", "done"] as const;
export type State = (typeof STATES)[number];

export interface Filter {
  /** Rows in these states only; empty: every state. */
  states: ReadonlySet<string>;
  /** Rows whose name contains this, ignoring case. */
  search: string;
}

export class Queue {
  private rows = new Map<number, Row>();
  private order: number[] = [];
  private dirtyOrder = false;
  private filter: Filter = { states: new Set(), search: "" };
  /** The assets the filter lets through, newest first. */
  visible: number[] = [];
  totals: Totals | null = null;
  /** Bumped on every change; components read it to know when to redraw. */
  version = 0;

  /** Everything from scratch. */
  load(snapshot: Snapshot): void {
    this.rows = new Map(snapshot.rows.map((row) => [row.asset, row]));
    this.totals = snapshot.totals;
    this.dirtyOrder = true;
    this.refresh();
  }

  /** Rows as they are now, replacing those of the same asset, and the totals. */
  apply(delta: Delta): void {
    let reorder = false;
    for (const row of delta.rows) {
      const before = this.rows.get(row.asset);
      if (!before) {
        this.dirtyOrder = true;
      } else if (before.state !== row.state || before.name !== row.name) {
        reorder = true;
      }
      this.rows.set(row.asset, row);
    }
    this.totals = delta.totals;
    if (this.dirtyOrder || reorder || this.filter.search !== "" || this.filter.states.size > 0) {
      this.refresh();
    } else {
      this.version++;
    }
  }

  setFilter(filter: Filter): void {
    this.filter = filter;
    this.refresh();
  }

  row(asset: number): Row | undefined {
    return this.rows.get(asset);
  }

  get size(): number {
    return this.rows.size;
  }

  /** How many rows are in each state (for the filter's counts). */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const row of this.rows.values()) {
      counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
    }
    return counts;
  }

  private refresh(): void {
    if (this.dirtyOrder) {
      this.order = [...this.rows.keys()].sort((a, b) => b - a);
      this.dirtyOrder = false;
    }
    const { states, search } = this.filter;
    const needle = search.trim().toLowerCase();
    this.visible = this.order.filter((asset) => {
      const row = this.rows.get(asset);
      return (
        row !== undefined &&
        (states.size === 0 || states.has(row.state)) &&
        (needle === "" || row.name.toLowerCase().includes(needle))
      );
    });
    this.version++;
  }
}

/** A row's progress over all its uploads, 0 to 1. */
export function progress(row: Row): number {
  let sent = 0;
  let size = 0;
  for (const upload of row.uploads) {
    sent += upload.state === "verified" ? upload.size : upload.sent;
    size += upload.size;
  }
  return size === 0 ? 0 : Math.min(1, sent / size);
}

/** A row's speed: the sum of its uploads' that are sending. */
export function speed(row: Row): number {
  return row.uploads.reduce((sum, upload) => sum + (upload.state === "sending" ? upload.bytes_per_second : 0), 0);
}

/**
 * `read()`, as of `version`: a component derives from the store with
 * `$derived(at(version, () => queue.totals))`, so the value is read again whenever the
 * version it watches changes (the store itself is not reactive state).
 */
export function at<T>(version: number, read: () => T): T {
  void version;
  return read();
}
