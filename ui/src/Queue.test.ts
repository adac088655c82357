import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import QueueList from "./Queue.svelte";
import { Queue } from "./lib/queue";
import type { Row } from "./lib/tauri";
import { quietTotals } from "./test-fixtures";

vi.mock("./lib/tauri", () => ({
  pauseAsset: vi.fn(() => Promise.resolve()),
  resumeAsset: vi.fn(() => Promise.resolve()),
  cancelAsset: vi.fn(() => Promise.resolve()),
  thumbnail: (asset: number) => `thumb://localhost/${asset}`,
}));
const tauri = await import("./lib/tauri");

function rows(n: number): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    asset: i + 1,
    name: `IMG_${String(i + 1).padStart(5, "0")}.CR2`,
    path: null,
    source: "cards",
    state: i % 2 === 0 ? "sending" : "paused",
    rating: 3,
    uploads: [{ what: "web", state: "sending", sent: 10, size: 100, bytes_per_second: 1000, error: null }],
  }));
}

function queueOf(n: number): Queue {
  const queue = new Queue();
  queue.load({
    rows: rows(n),
    totals: quietTotals({ uploads_left: n }),
    sources: [],
    cards: [],
  });
  return queue;
}

afterEach(cleanup);

describe("the queue", () => {
  it("keeps a few dozen rows in the DOM for 10,000 and says how many there are", () => {
    const queue = queueOf(10_000);
    render(QueueList, { queue, version: queue.version });
    const grid = screen.getByRole("grid");
    expect(grid.getAttribute("aria-rowcount")).toBe("10000");
    const drawn = screen.getAllByRole("row");
    expect(drawn.length).toBeGreaterThan(0);
    expect(drawn.length).toBeLessThanOrEqual(60);
    // Newest first.
    expect(drawn[0]?.textContent).toContain("IMG_10000.CR2");
  });

  it("moves focus with the keyboard and sends a row's action to the engine", async () => {
    const queue = queueOf(50);
    render(QueueList, { queue, version: queue.version });
    const first = screen.getAllByRole("row")[0]!;
    expect(first.getAttribute("tabindex")).toBe("0");
    await fireEvent.keyDown(screen.getByRole("grid"), { key: "ArrowDown" });
    await tick();
    const rowsNow = screen.getAllByRole("row");
    expect(rowsNow[0]?.getAttribute("tabindex")).toBe("-1");
    expect(rowsNow[1]?.getAttribute("tabindex")).toBe("0");
    // Even assets are paused, odd ones sending.
    await fireEvent.click(screen.getByRole("button", { name: "Resume IMG_00050.CR2" }));
    expect(tauri.resumeAsset).toHaveBeenCalledWith(50);
    await fireEvent.click(screen.getByRole("button", { name: "Pause IMG_00049.CR2" }));
    expect(tauri.pauseAsset).toHaveBeenCalledWith(49);
  });
});
