import { describe, expect, it } from "vitest";

import goldenText from "../../../../tests/golden/video_interpolation.json?raw";
import { type Pt, type Track, densify, stateAt } from "./interpolation";

interface Golden {
  state_at: { name: string; track: Track; frames: { frame: number; state: Record<string, unknown> | null }[] }[];
  densify: { points: Pt[]; count: number; expected: Pt[] }[];
}

const golden = JSON.parse(goldenText) as Golden;

/** `actual` has the same structure as `expected`, with every number within 1e-6. */
function expectClose(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === "number") {
    expect(typeof actual, where).toBe("number");
    expect(Math.abs((actual as number) - expected), `${where}: ${String(actual)} vs ${expected}`).toBeLessThan(1e-6);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), where).toBe(true);
    expect((actual as unknown[]).length, `${where} length`).toBe(expected.length);
    expected.forEach((e, i) => expectClose((actual as unknown[])[i], e, `${where}[${i}]`));
  } else if (typeof expected === "object" && expected !== null) {
    expect(typeof actual === "object" && actual !== null, where).toBe(true);
    const object = actual as Record<string, unknown>;
    expect(Object.keys(object).sort(), `${where} keys`).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected)) expectClose(object[key], value, `${where}.${key}`);
  } else {
    expect(actual, where).toEqual(expected);
  }
}

describe("the interpolation port gives the server's golden states", () => {
  it("has cases to check", () => {
    expect(golden.state_at.length).toBeGreaterThan(3);
    expect(golden.densify.length).toBeGreaterThan(0);
  });

  for (const { name, track, frames } of golden.state_at) {
    it(`state_at: ${name}`, () => {
      for (const { frame, state } of frames) expectClose(stateAt(track, frame), state, `${name} frame ${frame}`);
    });
  }

  golden.densify.forEach(({ points, count, expected }, index) => {
    it(`densify case ${index} (${points.length} to ${count} points)`, () => {
      expectClose(densify(points, count), expected, `densify ${index}`);
    });
  });

  it("keeps every vertex and adds the points along the longest edges", () => {
    const out = densify(
      [
        { x: 0, y: 0 },
        { x: 30, y: 0 },
        { x: 0, y: 10 },
      ],
      5,
    );
    expect(out).toHaveLength(5);
    expect(out[0]).toEqual({ x: 0, y: 0 });
    expect(out.filter((p) => p.y === 0 && p.x > 0 && p.x < 30)).toHaveLength(1);
  });
});
