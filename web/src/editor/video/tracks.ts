/**
 * A video's instances in the editor: its tracks (the editable part) and everything else kept as it came (tags,
 * frame tags, the file's attributes); and the pure edits of tracks: keyframes set from a shape drawn or moved on
 * a frame, outside marks, removals, and each track's visible spans for the timeline, cut where its per-frame
 * attribute values change.
 */
import type { PacketInstance } from "../../api/types";
import type { Pt } from "../geometry";
import { withAttribute } from "../instances";
import { type TagSegment, segmentsOf } from "./frameTags";
import {
  type Geometry,
  type Keyframe,
  type Track,
  type TrackShape,
  geometryOf,
  keyframeIndexAt,
  shapeAt,
  stateAt,
} from "./interpolation";

export const TRACK_SHAPES: TrackShape[] = ["box", "polygon", "point"];

export interface VideoInstances {
  tracks: Track[];
  /** the instances that are not tracks, sent back unchanged */
  others: PacketInstance[];
}

function isTrackShape(value: unknown): value is TrackShape {
  return typeof value === "string" && (TRACK_SHAPES as string[]).includes(value);
}

/** A stored track in the editor's form: `shape` named on the track (older documents name it per keyframe). */
export function trackOf(instance: PacketInstance): Track | null {
  if (instance.type !== "track" || !Array.isArray(instance.keyframes) || instance.keyframes.length === 0) return null;
  const keyframes = instance.keyframes as Keyframe[];
  const shape = isTrackShape(instance.shape) ? instance.shape : keyframes[0]?.type;
  if (!isTrackShape(shape)) return null;
  return { ...(instance as Track), shape, keyframes: [...keyframes].sort((a, b) => a.frame - b.frame) };
}

export function splitInstances(instances: PacketInstance[]): VideoInstances {
  const tracks: Track[] = [];
  const others: PacketInstance[] = [];
  for (const instance of instances) {
    const track = trackOf(instance);
    if (track) tracks.push(track);
    else others.push(instance);
  }
  return { tracks, others };
}

export function joinInstances({ tracks, others }: VideoInstances): PacketInstance[] {
  return [...tracks, ...others] as PacketInstance[];
}

/** The editor's key of a track: stable across edits (its `track_id` is unique in the file). */
export function trackKey(track: Track): string {
  return `track-${track.track_id}`;
}

export function findTrack(tracks: Track[], key: string | null): Track | undefined {
  return key === null ? undefined : tracks.find((t) => trackKey(t) === key);
}

/** A geometry from the editor's points: a box's two corners, or the vertices. */
export function geometryFromPoints(shape: TrackShape, points: Pt[]): Geometry {
  if (shape === "box") {
    const [a, b] = points as [Pt, Pt];
    return { x_min: a.x, y_min: a.y, x_max: b.x, y_max: b.y };
  }
  return { points: points.map((p) => ({ x: p.x, y: p.y })) };
}

export function pointsFromGeometry(shape: TrackShape, geometry: Geometry): Pt[] {
  if (shape === "box") {
    return [
      { x: geometry.x_min ?? 0, y: geometry.y_min ?? 0 },
      { x: geometry.x_max ?? 0, y: geometry.y_max ?? 0 },
    ];
  }
  return (geometry.points ?? []).map((p) => ({ x: p.x, y: p.y }));
}

function withKeyframe(track: Track, keyframe: Keyframe): Track {
  const kept = track.keyframes.filter((k) => k.frame !== keyframe.frame);
  return { ...track, keyframes: [...kept, keyframe].sort((a, b) => a.frame - b.frame) };
}

function stripGeometry(keyframe: Keyframe): Keyframe {
  const { x_min: _a, y_min: _b, x_max: _c, y_max: _d, points: _e, ...rest } = keyframe;
  return rest;
}

/**
 * The track with a visible keyframe on `frame` holding `geometry`: the keyframe there is reshaped (and made
 * visible), or a new one made that carries the frame's occluded flag and attributes.
 */
export function setKeyframe(track: Track, frame: number, geometry: Geometry): Track {
  const current = track.keyframes.find((k) => k.frame === frame);
  if (current) return withKeyframe(track, { ...stripGeometry(current), ...geometry, frame, outside: false });
  const state = stateAt(track, frame);
  const before = track.keyframes.filter((k) => k.frame < frame).at(-1);
  return withKeyframe(track, {
    frame,
    ...geometry,
    outside: false,
    occluded: state?.occluded ?? false,
    ...(before?.attributes ? { attributes: before.attributes } : {}),
  });
}

/** A new track, seen from `frame` on, with `attributes` for the whole track (its drawn shape's: the defaults). */
export function newTrack(
  tracks: Track[],
  name: string,
  shape: TrackShape,
  frame: number,
  geometry: Geometry,
  attributes: Record<string, unknown> = {},
): Track {
  const trackId = tracks.reduce((most, t) => Math.max(most, t.track_id + 1), 1);
  return {
    type: "track",
    name,
    track_id: trackId,
    shape,
    attributes,
    keyframes: [{ frame, ...geometry, outside: false, occluded: false }],
  };
}

/**
 * The object leaves the view on `frame` (an outside keyframe, holding the frame's shape), or, where it is
 * already marked outside there, comes back (the mark removed).
 */
export function toggleOutside(track: Track, frame: number): Track {
  const current = track.keyframes.find((k) => k.frame === frame);
  if (current?.outside) {
    const keyframes = track.keyframes.filter((k) => k.frame !== frame);
    return keyframes.length > 0 ? { ...track, keyframes } : track;
  }
  const state = stateAt(track, frame);
  if (!state) return track;
  const geometry = geometryOf(track.shape, state);
  return withKeyframe(track, { ...(current ?? { occluded: state.occluded }), ...geometry, frame, outside: true });
}

export function toggleOccluded(track: Track, frame: number): Track {
  const state = shapeAt(track, frame);
  if (!state) return track;
  const current = track.keyframes.find((k) => k.frame === frame);
  const keyframe = current ?? setKeyframe(track, frame, geometryOf(track.shape, state)).keyframes.find((k) => k.frame === frame);
  return withKeyframe(track, { ...(keyframe as Keyframe), occluded: !state.occluded });
}

/** The track without its keyframe on `frame` (a track keeps at least one keyframe). */
export function removeKeyframe(track: Track, frame: number): Track {
  const keyframes = track.keyframes.filter((k) => k.frame !== frame);
  return keyframes.length > 0 ? { ...track, keyframes } : track;
}

/** The track with one of its attributes (fixed for the whole track) set, or removed when empty. */
export function setTrackAttribute(track: Track, group: string, value: unknown): Track {
  const attributes = withAttribute(track.attributes ?? {}, group, value);
  const same = JSON.stringify(attributes[group]) === JSON.stringify(track.attributes?.[group]);
  return same ? track : { ...track, attributes };
}

/** The per-frame attributes in effect on `frame`: the keyframe's at or before it (the track's own are apart). */
export function frameAttributesAt(track: Track, frame: number): Record<string, unknown> {
  return track.keyframes[keyframeIndexAt(track.keyframes, frame)]?.attributes ?? {};
}

/**
 * The track with a per-frame attribute set from `frame` on (it holds until the next keyframe), on the keyframe
 * there (made, holding the frame's shape, where the object is visible), or removed there when empty.
 */
export function setFrameAttribute(track: Track, frame: number, group: string, value: unknown): Track {
  let current = track.keyframes.find((k) => k.frame === frame);
  let base = track;
  if (!current) {
    const state = shapeAt(track, frame);
    if (!state) return track;
    base = setKeyframe(track, frame, geometryOf(track.shape, state));
    current = base.keyframes.find((k) => k.frame === frame) as Keyframe;
  }
  const attributes = withAttribute(current.attributes ?? {}, group, value);
  if (JSON.stringify(attributes[group]) === JSON.stringify(current.attributes?.[group])) return track;
  const { attributes: _old, ...rest } = current;
  return withKeyframe(base, Object.keys(attributes).length > 0 ? { ...rest, attributes } : rest);
}

export function replaceTrack(tracks: Track[], track: Track): Track[] {
  return tracks.map((t) => (t.track_id === track.track_id ? track : t));
}

/** The frame ranges (inclusive) where the track is visible, up to the video's last frame. */
export function visibleSpans(track: Track, frameCount: number): [number, number][] {
  const spans: [number, number][] = [];
  const keys = track.keyframes;
  keys.forEach((key, i) => {
    if (key.outside || key.frame >= frameCount) return;
    const next = keys[i + 1];
    const end = next === undefined ? frameCount - 1 : next.outside ? next.frame - 1 : next.frame;
    const last = spans.at(-1);
    if (last && last[1] >= key.frame - 1) last[1] = Math.max(last[1], end);
    else spans.push([key.frame, end]);
  });
  return spans;
}

/**
 * The track's visible frames for its timeline row, cut where its per-frame attribute values change: a piece per
 * visible keyframe (to the next keyframe, or the video's end), pieces with the same values joined, as a label's
 * frame tags are (a segment per run of keyframes, whatever the video's length); keys are the keyframes' frames.
 */
export function trackSegments(track: Track, frameCount: number): TagSegment[] {
  const keys = track.keyframes;
  const pieces = keys.flatMap((key, i) => {
    if (key.outside || key.frame >= frameCount) return [];
    const end = Math.min(keys[i + 1]?.frame ?? frameCount, frameCount) - 1;
    return [{ frame_start: key.frame, frame_end: end, attributes: key.attributes }];
  });
  return segmentsOf(pieces, (piece) => String(piece.frame_start));
}
