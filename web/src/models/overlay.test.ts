import { describe, expect, it } from "vitest";

import {
  atLeast,
  boxesOf,
  boxTitle,
  predictionLayer,
  scoreFromLink,
  scoreLinkEntry,
  scoreOf,
  shownBoxes,
} from "./overlay";

const box = (name: string, score?: number) => ({
  type: "box",
  name,
  x_min: 1,
  y_min: 2,
  x_max: 10,
  y_max: 20,
  ...(score === undefined ? {} : { score, model: "det", version: 3, run: "pr_1" }),
});

describe("score filtering", () => {
  it("keeps instances at or above the score, and those without a score", () => {
    const instances = [box("car", 0.9), box("car", 0.4), box("truck", 0.5), box("bus")];
    expect(atLeast(instances, 0.5).map((i) => i.name)).toEqual(["car", "truck", "bus"]);
    expect(atLeast(instances, 0)).toHaveLength(4);
    expect(scoreOf(box("bus"))).toBe(1);
  });
});

describe("predictionLayer", () => {
  it("is the model's boxes above the threshold, keyed by run and place, titled with the version", () => {
    const layer = predictionLayer("det", { run_id: "pr_1", instance_list: [box("car", 0.9), box("car", 0.2)] }, 0.3);
    expect(layer.id).toBe("model:det");
    expect(layer.title).toBe("det v3 predictions ≥ 0.30");
    expect(layer.shapes.map((s) => [s.key, s.kind, s.name])).toEqual([["pr_1:0", "box", "car"]]);
    expect(layer.shapes[0]?.points).toEqual([
      { x: 1, y: 2 },
      { x: 10, y: 20 },
    ]);
  });
});

describe("shownBoxes", () => {
  it("is the predicted boxes at or above the score; none where the run predicted nothing", () => {
    const polygon = { type: "polygon", name: "car", points: [], score: 0.9 };
    const shown = shownBoxes([box("car", 0.9), box("truck", 0.4), polygon], 0.5);
    expect(shown.map((b) => [b.name, b.x_max])).toEqual([["car", 10]]);
    expect(shownBoxes([box("car", 0.9), box("truck", 0.4)], 0)).toHaveLength(2);
    expect(shownBoxes([box("car", 0.99)], 1)).toHaveLength(0);
    expect(shownBoxes(null, 0)).toEqual([]);
    expect(shownBoxes(undefined, 0)).toEqual([]);
  });

  it("leaves out boxes whose corners are not numbers", () => {
    expect(boxesOf([{ type: "box", name: "car", x_min: "1", y_min: 2, x_max: 3, y_max: 4 }])).toEqual([]);
  });
});

describe("boxTitle", () => {
  it("names the label and the score to two places", () => {
    expect(boxTitle(box("car", 0.876))).toBe("car 0.88");
    expect(boxTitle(box("bus"))).toBe("bus");
  });
});

describe("the score in a link", () => {
  it("reads a score from 0 to 1 and anything else as 0", () => {
    expect(scoreFromLink("0.35")).toBe(0.35);
    expect(scoreFromLink("1")).toBe(1);
    expect(scoreFromLink("7")).toBe(1);
    expect(scoreFromLink("-2")).toBe(0);
    expect(scoreFromLink("high")).toBe(0);
    expect(scoreFromLink("")).toBe(0);
    expect(scoreFromLink(null)).toBe(0);
  });

  it("writes a score the slider moved and none at 0, so a link reads back what was shown", () => {
    expect(scoreLinkEntry(0)).toEqual({});
    expect(scoreLinkEntry(0.35000000000000003)).toEqual({ score: "0.35" });
    for (const score of [0.05, 0.5, 0.95, 1]) {
      expect(scoreFromLink(scoreLinkEntry(score).score ?? null)).toBe(score);
    }
  });
});
