import { describe, expect, it } from "vitest";

import type { PacketInstance } from "../../api/types";
import {
  type FrameTag,
  addFrameTag,
  describeAttributes,
  describeSegment,
  pickedTag,
  removeFrameTag,
  setTagAttribute,
  splitFrameTags,
  tagKey,
  tagRows,
  tagsOnFrame,
} from "./frameTags";

describe("frame tags", () => {
  it("are told apart from the other instances, which stay as they came", () => {
    const global = { type: "global", name: "global", attributes: { weather: "rain" } } as PacketInstance;
    const tag = { type: "frame_tag", name: "blurry", frame_start: 3, id: "v1" } as PacketInstance;
    const { tags, rest } = splitFrameTags([global, tag]);
    expect(tags).toEqual([tag]);
    expect(rest).toEqual([global]);
  });

  it("cover their frames inclusively, one frame without an end", () => {
    const tags = addFrameTag(addFrameTag([], "blurry", 20, 10), "dark", 15, 15);
    expect(tags[0]).toEqual({ type: "frame_tag", name: "blurry", frame_start: 10, frame_end: 20 });
    expect(tagsOnFrame(tags, 10).map((t) => t.name)).toEqual(["blurry"]);
    expect(tagsOnFrame(tags, 15).map((t) => t.name)).toEqual(["blurry", "dark"]);
    expect(tagsOnFrame(tags, 20).map((t) => t.name)).toEqual(["blurry"]);
    expect(tagsOnFrame(tags, 21)).toEqual([]);
    const single = splitFrameTags([{ type: "frame_tag", name: "dark", frame_start: 7 } as PacketInstance]).tags;
    expect(tagsOnFrame(single, 7)).toHaveLength(1);
    expect(tagsOnFrame(single, 8)).toHaveLength(0);
  });

  it("are added once and removed by their key", () => {
    const once = addFrameTag([], "blurry", 10, 20);
    expect(addFrameTag(once, "blurry", 20, 10)).toBe(once);
    const two = addFrameTag(once, "blurry", 30, 40);
    expect(removeFrameTag(two, tagKey(once[0]!))).toEqual([two[1]]);
    expect(removeFrameTag(two, "nothing@0-0")).toBe(two);
  });
});

describe("a frame tag's attributes", () => {
  const tag = { type: "frame_tag", name: "blurry", frame_start: 3, frame_end: 9, id: "v1" } as FrameTag;

  it("are set on the tag of a key, the others and the same array kept when nothing changes", () => {
    const other = { type: "frame_tag", name: "dark", frame_start: 3, frame_end: 9 } as FrameTag;
    const tags = [tag, other];
    const next = setTagAttribute(tags, "blurry@3-9", "cause", "motion");
    expect(next).toEqual([{ ...tag, attributes: { cause: "motion" } }, other]);
    expect(next[1]).toBe(other);
    expect(setTagAttribute(next, "blurry@3-9", "cause", "motion")).toBe(next);
    expect(setTagAttribute(tags, "nothing@0-0", "cause", "motion")).toBe(tags);
    expect(setTagAttribute(next, "blurry@3-9", "cause", "")).toEqual(tags);
    expect(describeAttributes({ ...tag, attributes: { cause: "motion", sides: ["left", "right"] } })).toBe(
      "cause: motion, sides: left + right",
    );
  });
});

describe("the timeline's frame tag rows", () => {
  const tag = (name: string, a: number, b: number, attributes?: Record<string, unknown>): FrameTag => ({
    type: "frame_tag",
    name,
    frame_start: a,
    frame_end: b,
    ...(attributes ? { attributes } : {}),
  });

  it("are one per label, cut where the attribute values change, with a mark where they change", () => {
    const tags = [
      tag("occluder", 25, 40, { occluded: "partly" }),
      tag("dark", 0, 5),
      tag("occluder", 10, 24, { occluded: "mostly" }),
      tag("occluder", 60, 70, { occluded: "partly" }),
    ];
    const rows = tagRows(tags);
    expect(rows.map((r) => r.name)).toEqual(["dark", "occluder"]);
    expect(rows[0]!.segments).toEqual([{ frame_start: 0, frame_end: 5, values: "", keys: ["dark@0-5"], change: false }]);
    const spans = rows[1]!.segments.map((s) => [s.frame_start, s.frame_end, s.values, s.change]);
    expect(spans).toEqual([
      [10, 24, "occluded: mostly", false],
      [25, 40, "occluded: partly", true],
      [60, 70, "occluded: partly", false], // after a gap: no change marked
    ]);
    expect(describeSegment("Tag occluder", rows[1]!.segments[0]!)).toBe("Tag occluder, occluded: mostly, frames 10–24");
    expect(describeSegment("Tag dark", rows[0]!.segments[0]!)).toBe("Tag dark, frames 0–5");
  });

  it("make one segment of tags that touch or overlap with the same values, and show both where values overlap", () => {
    const same = tagRows([tag("blurry", 0, 9, { cause: "motion" }), tag("blurry", 10, 19, { cause: "motion" })]);
    expect(same[0]!.segments).toEqual([
      { frame_start: 0, frame_end: 19, values: "cause: motion", keys: ["blurry@0-9", "blurry@10-19"], change: false },
    ]);
    const overlapping = tagRows([tag("blurry", 0, 9, { cause: "motion" }), tag("blurry", 5, 14, { cause: "focus" })]);
    expect(overlapping[0]!.segments.map((s) => [s.frame_start, s.frame_end, s.values, s.keys.length])).toEqual([
      [0, 4, "cause: motion", 1],
      [5, 9, "cause: motion; cause: focus", 2],
      [10, 14, "cause: focus", 1],
    ]);
    // a click picks the tag under the pointer
    const merged = same[0]!.segments[0]!;
    const both = [tag("blurry", 0, 9, { cause: "motion" }), tag("blurry", 10, 19, { cause: "motion" })];
    expect(pickedTag(both, merged.keys, 15)).toBe("blurry@10-19");
    expect(pickedTag(both, merged.keys, 3)).toBe("blurry@0-9");
    expect(pickedTag(both, merged.keys, null)).toBe("blurry@0-9");
  });

  it("grow with the tags, not the frames: a tag over a 10-minute video is one segment", () => {
    const rows = tagRows([tag("night", 0, 17_999, { light: "low" }), tag("night", 18_000, 35_999, { light: "none" })]);
    expect(rows[0]!.segments).toHaveLength(2);
    expect(describeSegment("Tag night", rows[0]!.segments[1]!)).toBe("Tag night, light: none, frames 18000–35999");
  });
});
