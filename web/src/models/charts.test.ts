import { describe, expect, it } from "vitest";

import { apBars, duration, linear, prPath } from "./charts";

describe("linear", () => {
  it("maps the domain's ends onto the range's, inverted ranges included", () => {
    const y = linear(0, 1, 100, 0);
    expect([y(0), y(0.5), y(1)]).toEqual([100, 50, 0]);
    expect(linear(2, 2, 7, 9)(2)).toBe(7);
  });
});

describe("apBars", () => {
  it("orders classes by AP, puts those without one last, and scales lengths to the width at AP 1", () => {
    const bars = apBars({ truck: null, car: 0.5, bus: 1, bike: 0.5, van: undefined }, 200);
    expect(bars.map((b) => b.label)).toEqual(["bus", "bike", "car", "truck", "van"]);
    expect(bars.map((b) => b.length)).toEqual([200, 100, 100, 0, 0]);
    expect(bars[3]?.value).toBeNull();
  });
});

describe("prPath", () => {
  it("draws recall along x and precision up the y axis", () => {
    expect(
      prPath(
        [
          [0, 1],
          [0.5, 0.5],
          [1, 0],
        ],
        100,
        50,
      ),
    ).toBe("M0.0,0.0 L50.0,25.0 L100.0,50.0");
    expect(prPath([], 100, 50)).toBe("");
  });
});

describe("duration", () => {
  it("reads seconds, minutes and hours, and a dash for none", () => {
    expect([duration(42.4), duration(210), duration(7200), duration(null)]).toEqual(["42 s", "3.5 min", "2.0 h", "—"]);
  });
});
