import { describe, expect, it } from "vitest";

import type { PacketInstance } from "../../api/types";
import {
  type FrameTag,
  addFrameTag,
  describeAttributes,
  removeFrameTag,
  setTagAttribute,
  splitFrameTags,
  tagKey,
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
