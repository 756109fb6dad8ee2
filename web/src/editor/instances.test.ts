import { describe, expect, it } from "vitest";

import { fromPacket, newShape, toPacket } from "./instances";

describe("instances", () => {
  it("gives back an untouched instance exactly as it came", () => {
    const box = {
      id: "in_1",
      root_id: "in_1",
      type: "box",
      name: "car",
      x_min: 1.5,
      y_min: 2,
      x_max: 30,
      y_max: 40,
      source: "model",
      score: 0.9,
      attributes: { occluded: "no" },
    };
    expect(toPacket(fromPacket(box))).toEqual(box);
    const polygon = { id: "in_2", type: "polygon", name: "road", points: [{ x: 1, y: 1 }, { x: 5, y: 1 }, { x: 3, y: 4 }], attributes: {} };
    expect(toPacket(fromPacket(polygon))).toEqual(polygon);
    const ellipse = { id: "in_3", type: "ellipse", name: "ball", center_x: 5, center_y: 5, width: 2, height: 2 };
    expect(toPacket(fromPacket(ellipse))).toBe(ellipse);
  });

  it("writes the editor's geometry, label and attributes over the source", () => {
    const shape = fromPacket({ id: "in_1", type: "box", name: "car", x_min: 1, y_min: 2, x_max: 3, y_max: 4 });
    const edited = { ...shape, name: "bicycle", points: [{ x: 5, y: 6 }, { x: 7, y: 8 }], attributes: { occluded: "partly" } };
    expect(toPacket(edited)).toEqual({
      id: "in_1",
      type: "box",
      name: "bicycle",
      x_min: 5,
      y_min: 6,
      x_max: 7,
      y_max: 8,
      attributes: { occluded: "partly" },
    });
  });

  it("keeps per-point extras while the vertex count is the same", () => {
    const line = fromPacket({ type: "line", name: "lane", points: [{ x: 0, y: 0, name: "a" }, { x: 1, y: 1, name: "b" }] });
    expect(toPacket({ ...line, points: [{ x: 2, y: 2 }, { x: 3, y: 3 }] }).points).toEqual([
      { x: 2, y: 2, name: "a" },
      { x: 3, y: 3, name: "b" },
    ]);
  });

  it("makes new instances without an id, tags without geometry", () => {
    expect(toPacket(newShape("point", "pole", [{ x: 3, y: 4 }]))).toEqual({
      type: "point",
      name: "pole",
      attributes: {},
      points: [{ x: 3, y: 4 }],
    });
    expect(toPacket(newShape("tag", "night", []))).toEqual({ type: "tag", name: "night", attributes: {} });
  });
});
