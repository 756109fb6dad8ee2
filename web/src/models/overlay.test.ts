import { describe, expect, it } from "vitest";

import { atLeast, predictionLayer, scoreOf } from "./overlay";

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
