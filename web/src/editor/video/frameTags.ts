/**
 * A video's frame tags in the editor: a label on the frames `frame_start`..`frame_end` (inclusive; one frame
 * when `frame_end` is absent), as the server stores them. A tag is made in two presses: its first frame is
 * marked, then its last (either order), within the frames worked on. Like CVAT's per-frame tags, a tag carries
 * `attributes` from its label's groups in the schema (the server checks them on save). Pure.
 */
import type { PacketInstance } from "../../api/types";
import { withAttribute } from "../instances";

export interface FrameTag {
  type: "frame_tag";
  name: string;
  frame_start: number;
  frame_end?: number | null;
  /** values of the schema's attribute groups of the tag's label */
  attributes?: Record<string, unknown>;
  /** what a stored tag carries besides (its id, attributes, source) goes back unchanged */
  [extra: string]: unknown;
}

/** Frames `frame_start`..`frame_end` (inclusive; one when absent) carrying attribute values: a frame tag, or a
 * track's frames from a keyframe to the next. */
export type FrameRun = Pick<FrameTag, "frame_start" | "frame_end" | "attributes">;

export function isFrameTag(instance: PacketInstance): boolean {
  const value = instance as Record<string, unknown>;
  return value.type === "frame_tag" && typeof value.name === "string" && typeof value.frame_start === "number";
}

/** The frame tags among the instances that are not tracks, and the rest kept as they came. */
export function splitFrameTags(instances: PacketInstance[]): { tags: FrameTag[]; rest: PacketInstance[] } {
  const tags: FrameTag[] = [];
  const rest: PacketInstance[] = [];
  for (const instance of instances) {
    if (isFrameTag(instance)) tags.push(instance as unknown as FrameTag);
    else rest.push(instance);
  }
  return { tags, rest };
}

export function lastFrameOf(tag: FrameRun): number {
  return tag.frame_end ?? tag.frame_start;
}

export function covers(tag: FrameTag, frame: number): boolean {
  return tag.frame_start <= frame && frame <= lastFrameOf(tag);
}

/** The editor's key of a tag: its label and frames (two tags alike are one). */
export function tagKey(tag: FrameTag): string {
  return `${tag.name}@${tag.frame_start}-${lastFrameOf(tag)}`;
}

/** The tags with `name` on the frames between `a` and `b` (either order), starting with `attributes` (its
 * groups' defaults); the same tag twice is kept once. */
export function addFrameTag(
  tags: FrameTag[],
  name: string,
  a: number,
  b: number,
  attributes: Record<string, unknown> = {},
): FrameTag[] {
  const span = { frame_start: Math.min(a, b), frame_end: Math.max(a, b) };
  const tag: FrameTag = { type: "frame_tag", name, ...span, ...(Object.keys(attributes).length > 0 ? { attributes } : {}) };
  return tags.some((t) => tagKey(t) === tagKey(tag)) ? tags : [...tags, tag];
}

export function findTag(tags: FrameTag[], key: string | null): FrameTag | undefined {
  return key === null ? undefined : tags.find((t) => tagKey(t) === key);
}

/** The tags with one attribute of the tag `key` set (empty removes it); the same array when nothing changes. */
export function setTagAttribute(tags: FrameTag[], key: string, group: string, value: unknown): FrameTag[] {
  const tag = findTag(tags, key);
  if (!tag) return tags;
  const attributes = withAttribute(tag.attributes ?? {}, group, value);
  if (JSON.stringify(attributes[group]) === JSON.stringify(tag.attributes?.[group])) return tags;
  const { attributes: _old, ...rest } = tag;
  const changed: FrameTag = Object.keys(attributes).length > 0 ? { ...rest, attributes } : rest;
  return tags.map((t) => (t === tag ? changed : t));
}

/** A tag's (or a track keyframe's) attribute values in words, for its line in the list ("" when it has none). */
export function describeAttributes(tag: Pick<FrameTag, "attributes">): string {
  return Object.entries(tag.attributes ?? {})
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(" + ") : String(value)}`)
    .join(", ");
}

/** A tag's frames in words: "frame 7", "frames 10–24". */
export function frameSpan(tag: Pick<FrameTag, "frame_start" | "frame_end">): string {
  const last = tag.frame_end ?? tag.frame_start;
  return last === tag.frame_start ? `frame ${last}` : `frames ${tag.frame_start}–${last}`;
}

/** A run on the timeline of one label's frame tags (or of one track): frames `frame_start`..`frame_end` with
 * the same values. */
export interface TagSegment {
  frame_start: number;
  frame_end: number;
  /** the attribute values on these frames in words ("" none; tags overlapping with others' values: "; " between) */
  values: string;
  /** the runs covering these frames (their keys: a tag's `tagKey`), the earliest first */
  keys: string[];
  /** the values change here: the segment just before ends on the frame before */
  change: boolean;
}

export interface TagRow {
  name: string;
  segments: TagSegment[];
}

/**
 * The timeline's rows: one per label, in the order of their first tag, each a few segments where its tags'
 * attribute values stay the same (a segment per run, not per frame: its size is the tags', whatever the
 * video's length). Tags of a label that touch or overlap with the same values make one segment.
 */
export function tagRows(tags: FrameTag[]): TagRow[] {
  const byName = new Map<string, FrameTag[]>();
  for (const tag of sortedTags(tags)) {
    const own = byName.get(tag.name);
    if (own) own.push(tag);
    else byName.set(tag.name, [tag]);
  }
  return [...byName].map(([name, own]) => ({ name, segments: segmentsOf(own, tagKey) }));
}

/** The segments of runs (sorted by first frame; one label's tags, or a track's pieces between keyframes): cut at
 * every run's first frame and after its last, the runs covering each piece kept as the cuts are swept; touching
 * pieces with the same values make one segment. */
export function segmentsOf<R extends FrameRun>(runs: R[], keyOf: (run: R) => string): TagSegment[] {
  const cuts = [...new Set(runs.flatMap((t) => [t.frame_start, lastFrameOf(t) + 1]))].sort((a, b) => a - b);
  const segments: TagSegment[] = [];
  let on: R[] = [];
  let next = 0;
  for (let i = 0; i + 1 < cuts.length; i += 1) {
    const [first, last] = [cuts[i]!, cuts[i + 1]! - 1];
    on = on.filter((t) => lastFrameOf(t) >= first);
    while (next < runs.length && runs[next]!.frame_start <= first) on.push(runs[next++]!);
    if (on.length === 0) continue;
    const values = [...new Set(on.map(describeAttributes).filter(Boolean))].join("; ");
    const previous = segments[segments.length - 1];
    const touches = previous !== undefined && previous.frame_end + 1 === first;
    if (touches && previous.values === values) {
      previous.frame_end = last;
      previous.keys = [...new Set([...previous.keys, ...on.map(keyOf)])];
    } else {
      segments.push({ frame_start: first, frame_end: last, values, keys: on.map(keyOf), change: touches });
    }
  }
  return segments;
}

/** A timeline segment of `subject` ("Tag blurry", "Track 3 car") in words, for its tooltip and accessible name:
 * "Tag blurry, cause: motion, frames 10–24". */
export function describeSegment(subject: string, segment: TagSegment): string {
  return [subject, segment.values, frameSpan(segment)].filter(Boolean).join(", ");
}

/** The tag a click on a segment picks: the one of its `keys` covering the `frame` clicked, else its first. */
export function pickedTag(tags: FrameTag[], keys: string[], frame: number | null): string | null {
  const under = keys.find((key) => {
    const tag = findTag(tags, key);
    return tag !== undefined && frame !== null && covers(tag, frame);
  });
  return under ?? keys[0] ?? null;
}

export function removeFrameTag(tags: FrameTag[], key: string): FrameTag[] {
  const kept = tags.filter((t) => tagKey(t) !== key);
  return kept.length === tags.length ? tags : kept;
}

/** The tags covering `frame`, in frame order. */
export function tagsOnFrame(tags: FrameTag[], frame: number): FrameTag[] {
  return sortedTags(tags.filter((t) => covers(t, frame)));
}

export function sortedTags(tags: FrameTag[]): FrameTag[] {
  return [...tags].sort((a, b) => a.frame_start - b.frame_start || lastFrameOf(a) - lastFrameOf(b) || a.name.localeCompare(b.name));
}
