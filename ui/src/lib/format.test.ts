import { describe, expect, it } from "vitest";
import { bytes, eta, rate } from "./format";

describe("format", () => {
  it("writes bytes in decimal units", () => {
    expect(bytes(999)).toBe("999 B");
    expect(bytes(1500)).toBe("1.5 KB");
    expect(bytes(7_523_286)).toBe("7.5 MB");
    expect(bytes(250_000_000)).toBe("250 MB");
  });
  it("says nothing of a rate or a time that is not known", () => {
    expect(rate(0)).toBe("");
    expect(rate(2_400_000)).toBe("2.4 MB/s");
    expect(eta(null)).toBe("");
    expect(eta(Number.POSITIVE_INFINITY)).toBe("");
  });
  it("writes time left in seconds, minutes or hours", () => {
    expect(eta(44.2)).toBe("45 s");
    expect(eta(600)).toBe("10 min");
    expect(eta(2 * 3600 + 5 * 60)).toBe("2 h 05 min");
  });
});
