import { describe, expect, it } from "vitest";

import { clampToRange, frameRange, isWholeVideo } from "./segment";

describe("frameRange", () => {
  it("is the whole video without a segment, and the segment's frames with one", () => {
    expect(frameRange(120)).toEqual({ first: 0, last: 119 });
    expect(frameRange(120, { start: 40, end: 79 })).toEqual({ first: 40, last: 79 });
    expect(isWholeVideo(frameRange(120), 120)).toBe(true);
    expect(isWholeVideo(frameRange(120, { start: 0, end: 59 }), 120)).toBe(false);
  });

  it("cuts a segment that runs past the video to its frames", () => {
    expect(frameRange(100, { start: 90, end: 129 })).toEqual({ first: 90, last: 99 });
    expect(frameRange(100, { start: 150, end: 199 })).toEqual({ first: 99, last: 99 });
    expect(frameRange(0)).toEqual({ first: 0, last: 0 });
  });
});

describe("clampToRange", () => {
  it("keeps a frame inside the range, rounded to a whole frame", () => {
    const range = { first: 40, last: 79 };
    expect(clampToRange(range, 10)).toBe(40);
    expect(clampToRange(range, 500)).toBe(79);
    expect(clampToRange(range, 55.6)).toBe(56);
  });
});
