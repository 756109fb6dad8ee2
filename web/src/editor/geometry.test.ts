import { describe, expect, it } from "vitest";

import {
  boxFromDrag,
  closesPolygon,
  enoughPoints,
  fit,
  handlePosition,
  insertVertex,
  moveVertex,
  removeVertex,
  resizeBox,
  toImage,
  toScreen,
  translate,
  wheelZoomFactor,
  zoomAt,
} from "./geometry";

const image = { width: 320, height: 240 };

describe("drawing boxes", () => {
  it("normalizes a drag in any direction and clamps it to the image", () => {
    expect(boxFromDrag({ x: 100, y: 80 }, { x: 40, y: 20 }, image)).toEqual([
      { x: 40, y: 20 },
      { x: 100, y: 80 },
    ]);
    expect(boxFromDrag({ x: -10, y: 200 }, { x: 50, y: 400 }, image)).toEqual([
      { x: 0, y: 200 },
      { x: 50, y: 240 },
    ]);
  });

  it("ignores a click or a sliver", () => {
    expect(boxFromDrag({ x: 10, y: 10 }, { x: 11, y: 30 }, image)).toBeNull();
    expect(boxFromDrag({ x: 10, y: 10 }, { x: 10, y: 10 }, image)).toBeNull();
  });

  it("rounds to hundredths of a pixel", () => {
    expect(boxFromDrag({ x: 1.23456, y: 2 }, { x: 9.87654, y: 8 }, image)?.[0].x).toBe(1.23);
  });

  it("resizes from each handle, flipping past the opposite side", () => {
    const box: [{ x: number; y: number }, { x: number; y: number }] = [
      { x: 10, y: 10 },
      { x: 50, y: 40 },
    ];
    expect(resizeBox(box, "se", { x: 60, y: 70 }, image)).toEqual([
      { x: 10, y: 10 },
      { x: 60, y: 70 },
    ]);
    expect(resizeBox(box, "n", { x: 999, y: 5 }, image)).toEqual([
      { x: 10, y: 5 },
      { x: 50, y: 40 },
    ]);
    expect(resizeBox(box, "w", { x: 80, y: 0 }, image)).toEqual([
      { x: 50, y: 10 },
      { x: 80, y: 40 },
    ]);
    expect(resizeBox(box, "nw", { x: -5, y: -5 }, image)[0]).toEqual({ x: 0, y: 0 });
    expect(handlePosition(box, "e")).toEqual({ x: 50, y: 25 });
  });
});

describe("moving shapes and vertices", () => {
  it("keeps a moved shape inside the image", () => {
    const points = [
      { x: 300, y: 10 },
      { x: 310, y: 30 },
    ];
    expect(translate(points, 50, -50, image)).toEqual([
      { x: 310, y: 0 },
      { x: 320, y: 20 },
    ]);
    expect(translate(points, -5, 5, image)).toEqual([
      { x: 295, y: 15 },
      { x: 305, y: 35 },
    ]);
  });

  it("moves, inserts and removes vertices", () => {
    const triangle = [
      { x: 0, y: 0 },
      { x: 10, y: 0 },
      { x: 5, y: 10 },
    ];
    expect(moveVertex(triangle, 2, { x: 5, y: 500 }, image)[2]).toEqual({ x: 5, y: 240 });
    expect(insertVertex(triangle, 0, { x: 5, y: -1 }, image)).toEqual([
      { x: 0, y: 0 },
      { x: 5, y: 0 },
      { x: 10, y: 0 },
      { x: 5, y: 10 },
    ]);
    expect(removeVertex(triangle, 1, 3)).toBe(triangle); // a polygon keeps 3 points
    expect(removeVertex(triangle, 1, 2)).toHaveLength(2);
  });

  it("closes a polygon near its first point once it has three", () => {
    const points = [
      { x: 10, y: 10 },
      { x: 50, y: 10 },
    ];
    expect(closesPolygon(points, { x: 11, y: 11 }, 5)).toBe(false);
    const three = [...points, { x: 30, y: 40 }];
    expect(closesPolygon(three, { x: 11, y: 11 }, 5)).toBe(true);
    expect(closesPolygon(three, { x: 20, y: 20 }, 5)).toBe(false);
    expect(enoughPoints("polygon", points)).toBe(false);
    expect(enoughPoints("line", points)).toBe(true);
  });
});

describe("zoom and pan", () => {
  it("fits the image in the viewport, centred", () => {
    const view = fit(image, { width: 672, height: 512 });
    expect(view.scale).toBe(2);
    expect(toScreen(view, { x: 0, y: 0 })).toEqual({ x: 16, y: 16 });
    expect(toScreen(view, { x: 320, y: 240 })).toEqual({ x: 656, y: 496 });
  });

  it("zooms around the cursor: the point under it stays put", () => {
    const view = { scale: 1.5, x: 30, y: -20 };
    const cursor = { x: 200, y: 150 };
    const before = toImage(view, cursor);
    const zoomed = zoomAt(view, 2, cursor);
    expect(zoomed.scale).toBe(3);
    const after = toImage(zoomed, cursor);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);
  });

  it("limits the zoom and reads trackpad pinches", () => {
    expect(zoomAt({ scale: 30, x: 0, y: 0 }, 10, { x: 0, y: 0 }).scale).toBe(40);
    expect(wheelZoomFactor(-100, 0)).toBeGreaterThan(1);
    expect(wheelZoomFactor(100, 0)).toBeLessThan(1);
    expect(wheelZoomFactor(3, 1)).toBeCloseTo(wheelZoomFactor(48, 0));
  });
});
