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

export function lastFrameOf(tag: FrameTag): number {
  return tag.frame_end ?? tag.frame_start;
}

export function covers(tag: FrameTag, frame: number): boolean {
  return tag.frame_start <= frame && frame <= lastFrameOf(tag);
}

/** The editor's key of a tag: its label and frames (two tags alike are one). */
export function tagKey(tag: FrameTag): string {
  return `${tag.name}@${tag.frame_start}-${lastFrameOf(tag)}`;
}

/** The tags with `name` on the frames between `a` and `b` (either order); the same tag twice is kept once. */
export function addFrameTag(tags: FrameTag[], name: string, a: number, b: number): FrameTag[] {
  const tag: FrameTag = { type: "frame_tag", name, frame_start: Math.min(a, b), frame_end: Math.max(a, b) };
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

/** A tag's attribute values in words, for its line in the list ("" when it has none). */
export function describeAttributes(tag: FrameTag): string {
  return Object.entries(tag.attributes ?? {})
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(" + ") : String(value)}`)
    .join(", ");
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
