/**
 * A video's frame tags in the editor: a label on the frames `frame_start`..`frame_end` (inclusive; one frame
 * when `frame_end` is absent), as the server stores them. A tag is made in two presses: its first frame is
 * marked, then its last (either order), within the frames worked on. Pure.
 */
import type { PacketInstance } from "../../api/types";

export interface FrameTag {
  type: "frame_tag";
  name: string;
  frame_start: number;
  frame_end?: number | null;
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
