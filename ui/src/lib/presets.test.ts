import { describe, expect, it } from "vitest";
import { asProblem, blank, copyName, problems, qualityMode, summary, withQualityMode } from "./presets";

describe("presets", () => {
  it("switches between a target score and a fixed quality, never both", () => {
    const form = blank("proofs");
    expect(qualityMode(form)).toBe("score");
    const fixed = withQualityMode(form, "fixed");
    expect(fixed.jpeg_quality).toBe(85);
    expect(fixed.target_score).toBeNull();
    expect(qualityMode(fixed)).toBe("fixed");
    expect(withQualityMode(fixed, "fixed")).toBe(fixed);
    expect(withQualityMode(fixed, "score").jpeg_quality).toBeNull();
  });

  it("summarises a preset in one line", () => {
    expect(summary(blank("x"))).toBe("2048 px · score 75 · small");
    expect(summary({ ...blank("x"), long_edge: null, target_score: null, jpeg_quality: 92, metadata: "drop-gps" })).toBe(
      "full size · quality 92 · small · drop-gps",
    );
    expect(summary({ ...blank("x"), look: "neutral", exposure_ev: 0.5 })).toBe("2048 px · score 75 · small · neutral · +0.5 EV");
    expect(summary({ ...blank("x"), exposure_ev: -1 })).toBe("2048 px · score 75 · small · -1 EV");
  });

  it("finds a free name for a duplicate", () => {
    expect(copyName("web", ["web"])).toBe("web-copy");
    expect(copyName("web", ["web", "web-copy", "web-copy-2"])).toBe("web-copy-3");
  });

  it("puts the engine's problem under its field", () => {
    expect(problems({ field: "long_edge", message: "long_edge: 5 is outside 16..=65000" })).toEqual({
      long_edge: "long_edge: 5 is outside 16..=65000",
    });
    expect(problems({ field: null, message: "give target_score or jpeg_quality" })).toEqual({
      general: "give target_score or jpeg_quality",
    });
    expect(problems(null)).toEqual({});
  });

  it("reads a command's rejection whether the engine answered or not", () => {
    expect(asProblem({ field: "name", message: "bad" })).toEqual({ field: "name", message: "bad" });
    expect(asProblem("no destination")).toEqual({ field: null, message: "no destination" });
  });
});
