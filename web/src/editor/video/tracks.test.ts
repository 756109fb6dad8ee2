import { describe, expect, it } from "vitest";

import type { PacketInstance } from "../../api/types";
import { type Track, stateAt } from "./interpolation";
import { describeSegment } from "./frameTags";
import {
  joinInstances,
  removeKeyframe,
  setKeyframe,
  splitInstances,
  toggleOccluded,
  trackOf,
  trackSegments,
  visibleSpans,
} from "./tracks";

const box = (frame: number, x: number, extra: object = {}) => ({ frame, x_min: x, y_min: 0, x_max: x + 10, y_max: 10, ...extra });

const TRACK: Track = {
  type: "track",
  name: "car",
  track_id: 2,
  shape: "box",
  attributes: { colour: "red" },
  keyframes: [box(0, 0, { occluded: true, attributes: { pose: "a" } }), box(20, 40)],
};

describe("tracks", () => {
  it("reads a track that names its shape on the keyframes, and keeps the other instances in order", () => {
    const stored = { type: "track", name: "car", track_id: 1, keyframes: [{ type: "box", ...box(5, 1) }], id: "x" };
    const tag = { type: "tag", name: "night" };
    expect(trackOf(stored as PacketInstance)).toMatchObject({ shape: "box", id: "x" });
    const split = splitInstances([tag, stored] as PacketInstance[]);
    expect(split.others).toEqual([tag]);
    expect(joinInstances(split)).toHaveLength(2);
    expect(trackOf({ type: "track", name: "car", track_id: 1, keyframes: [] } as PacketInstance)).toBeNull();
  });

  it("a new keyframe carries the frame's occluded flag and attributes; one on a keyframe reshapes it", () => {
    const moved = setKeyframe(TRACK, 10, { x_min: 5, y_min: 5, x_max: 15, y_max: 15 });
    expect(moved.keyframes.map((k) => k.frame)).toEqual([0, 10, 20]);
    expect(moved.keyframes[1]).toEqual({
      frame: 10,
      ...{ x_min: 5, y_min: 5, x_max: 15, y_max: 15 },
      outside: false,
      occluded: true,
      attributes: { pose: "a" },
    });
    const reshaped = setKeyframe(TRACK, 0, { x_min: 1, y_min: 1, x_max: 2, y_max: 2 });
    expect(reshaped.keyframes[0]).toMatchObject({ x_min: 1, occluded: true, attributes: { pose: "a" } });
  });

  it("toggles occlusion from the frame on, and removes a keyframe but never the last one", () => {
    const clear = toggleOccluded(TRACK, 5);
    expect(stateAt(clear, 4)?.occluded).toBe(true);
    expect(stateAt(clear, 5)?.occluded).toBe(false);
    expect(stateAt(clear, 5)?.x_min).toBe(10);
    expect(removeKeyframe(TRACK, 20).keyframes).toHaveLength(1);
    const single = removeKeyframe(TRACK, 20);
    expect(removeKeyframe(single, 0)).toBe(single);
  });

  it("spans run to the video's end, or to the frame before an outside keyframe", () => {
    expect(visibleSpans(TRACK, 30)).toEqual([[0, 29]]);
    const out = { ...TRACK, keyframes: [box(3, 0), box(8, 0, { outside: true }), box(12, 0), box(15, 0, { outside: true })] };
    expect(visibleSpans(out, 30)).toEqual([
      [3, 7],
      [12, 14],
    ]);
  });

  it("cuts a track's visible frames where its per-frame attribute values change, a segment per run of keyframes", () => {
    const track: Track = {
      ...TRACK,
      track_id: 3,
      keyframes: [
        box(0, 0),
        box(5, 0),
        box(10, 0, { attributes: { occluded: "partly" } }),
        box(18, 0, { attributes: { occluded: "partly" } }),
        box(25, 0, { outside: true, attributes: { occluded: "partly" } }),
        box(30, 0, { attributes: { occluded: "mostly" } }),
        box(40, 0, { attributes: { occluded: "partly" } }),
      ],
    };
    const segments = trackSegments(track, 1_000_000);
    expect(segments.map((s) => [s.frame_start, s.frame_end, s.values, s.change])).toEqual([
      [0, 9, "", false],
      [10, 24, "occluded: partly", true],
      [30, 39, "occluded: mostly", false],
      [40, 999_999, "occluded: partly", true],
    ]);
    expect(segments[1]!.keys).toEqual(["10", "18"]);
    expect(describeSegment("Track 3 car", segments[1]!)).toBe("Track 3 car, occluded: partly, frames 10–24");
    // without per-frame values a track's segments are its visible spans; keyframes past the video's end are cut off
    const hidden = { outside: true };
    const out = { ...TRACK, keyframes: [box(3, 0), box(8, 0, hidden), box(12, 0), box(15, 0, hidden), box(40, 0)] };
    expect(trackSegments(out, 30).map((s) => [s.frame_start, s.frame_end])).toEqual(visibleSpans(out, 30));
    expect(trackSegments(TRACK, 30).map((s) => [s.frame_start, s.frame_end, s.values])).toEqual([
      [0, 19, "pose: a"],
      [20, 29, ""],
    ]);
  });
});
