import { describe, expect, it } from "vitest";
import { Queue, progress, speed } from "./queue";
import type { Row } from "./tauri";
import { quietTotals } from "../test-fixtures";

const totals = quietTotals();

function row(asset: number, name: string, state: string, sent = 0, size = 100): Row {
  return {
    asset,
    name,
    path: null,
    source: null,
    state,
    rating: null,
    uploads: [{ what: "web", state: state === "done" ? "verified" : "sending", sent, size, bytes_per_second: 10, error: null }],
  };
}

describe("Queue", () => {
  it("lists rows newest first and replaces a row from a delta", () => {
    const queue = new Queue();
    queue.load({ rows: [row(1, "A.CR2", "queued"), row(3, "C.CR2", "queued"), row(2, "B.CR2", "queued")], totals, sources: [], cards: [] });
    expect(queue.visible).toEqual([3, 2, 1]);
    const before = queue.version;
    queue.apply({ rows: [row(2, "B.CR2", "sending", 50)], totals: { ...totals, uploads_left: 3 }, cards: null, sources: null });
    expect(queue.version).toBeGreaterThan(before);
    expect(queue.row(2)?.state).toBe("sending");
    expect(queue.totals?.uploads_left).toBe(3);
    queue.apply({ rows: [row(4, "D.CR2", "developing")], totals, cards: null, sources: null });
    expect(queue.visible).toEqual([4, 3, 2, 1]);
  });

  it("filters by state and searches by name, and follows rows that change state", () => {
    const queue = new Queue();
    queue.load({
      rows: [row(1, "IMG_0001.CR2", "done"), row(2, "IMG_0002.CR2", "failed"), row(3, "DSC_0003.NEF", "failed")],
      totals,
      sources: [],
      cards: [],
    });
    queue.setFilter({ states: new Set(["failed"]), search: "" });
    expect(queue.visible).toEqual([3, 2]);
    queue.setFilter({ states: new Set(["failed"]), search: "img" });
    expect(queue.visible).toEqual([2]);
    queue.apply({ rows: [row(2, "IMG_0002.CR2", "queued")], totals, cards: null, sources: null });
    expect(queue.visible).toEqual([]);
    expect(queue.counts().get("failed")).toBe(1);
    expect(queue.counts().get("queued")).toBe(1);
  });
});

describe("a row's figures", () => {
  it("counts verified uploads whole and sums the speed of those sending", () => {
    const r = row(1, "A.CR2", "sending", 25, 100);
    r.uploads.push({ what: "original", state: "verified", sent: 0, size: 100, bytes_per_second: 0, error: null });
    expect(progress(r)).toBeCloseTo(0.625);
    expect(speed(r)).toBe(10);
    expect(progress({ ...r, uploads: [] })).toBe(0);
  });
});
