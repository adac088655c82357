import { describe, expect, it } from "vitest";
import { scrollFor, slice } from "./window";

describe("slice", () => {
  it("draws the rows in view and a few on each side, whatever the list's length", () => {
    const s = slice(48 * 5000, 600, 48, 10_000);
    expect(s.first).toBe(5000 - 4);
    expect(s.end - s.first).toBeLessThanOrEqual(60);
    expect(s.end).toBeGreaterThan(5000 + 600 / 48);
    expect(s.top).toBe(s.first * 48);
  });

  it("stays inside the list at both ends and when it is empty", () => {
    expect(slice(0, 600, 48, 3)).toEqual({ first: 0, end: 3, top: 0 });
    const last = slice(48 * 10_000, 600, 48, 100);
    expect(last.end).toBe(100);
    expect(last.first).toBeLessThan(100);
    expect(slice(0, 600, 48, 0)).toEqual({ first: 0, end: 0, top: 0 });
  });
});

describe("scrollFor", () => {
  it("scrolls only as far as needed to show a row", () => {
    expect(scrollFor(10, 0, 480, 48)).toBe(48);
    expect(scrollFor(2, 480, 480, 48)).toBe(96);
    expect(scrollFor(5, 0, 480, 48)).toBe(0);
  });
});
