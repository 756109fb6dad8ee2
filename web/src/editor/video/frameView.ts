/**
 * The current frame as the image editor sees it: each track visible there becomes one editor shape (keyed by the
 * track), and what the image editor did to those shapes is folded back into the tracks as keyframes.
 */
import type { Shape } from "../instances";
import { type Track, type TrackShape, shapeAt } from "./interpolation";
import {
  TRACK_SHAPES,
  findTrack,
  geometryFromPoints,
  newTrack,
  pointsFromGeometry,
  replaceTrack,
  setKeyframe,
  trackKey,
} from "./tracks";

/** The tracks' shapes on `frame`; `source` says whether each is a keyframe or interpolated (held frames too). */
export function shapesOnFrame(tracks: Track[], frame: number): Shape[] {
  const shapes: Shape[] = [];
  for (const track of tracks) {
    const state = shapeAt(track, frame);
    if (!state) continue;
    shapes.push({
      key: trackKey(track),
      kind: track.shape,
      name: track.name,
      points: pointsFromGeometry(track.shape, state),
      attributes: state.attributes,
      source: { type: track.shape, track_id: track.track_id, interpolated: state.interpolated, occluded: state.occluded },
    });
  }
  return shapes;
}

function samePoints(a: Shape, b: Shape): boolean {
  return a.points.length === b.points.length && a.points.every((p, i) => p.x === b.points[i]?.x && p.y === b.points[i]?.y);
}

export interface Folded {
  tracks: Track[];
  /** the key to select: a new track's, or the track a drawn shape went to */
  selected: string | null;
}

/**
 * The tracks after the image editor turned the frame's shapes `before` into `after`: a moved or reshaped shape
 * sets its track's keyframe on `frame`; a relabelled one renames its track; a removed one removes its track; a
 * new shape becomes a keyframe of the track that was selected (`selected`, of the same shape) or a new track
 * whose attributes are the shape's (a new shape's are its label's defaults).
 */
export function foldFrame(tracks: Track[], frame: number, before: Shape[], after: Shape[], selected: string | null): Folded {
  let next = tracks;
  let select = selected;
  const kept = new Map(before.map((s) => [s.key, s]));
  const present = new Set(after.map((s) => s.key));
  for (const shape of after) {
    const old = kept.get(shape.key);
    const track = findTrack(next, shape.key);
    if (old && track) {
      let changed = track;
      if (!samePoints(old, shape)) changed = setKeyframe(changed, frame, geometryFromPoints(track.shape, shape.points));
      if (old.name !== shape.name) changed = { ...changed, name: shape.name };
      if (changed !== track) next = replaceTrack(next, changed);
      continue;
    }
    if (old || !(TRACK_SHAPES as string[]).includes(shape.kind)) continue;
    const kind = shape.kind as TrackShape;
    const geometry = geometryFromPoints(kind, shape.points);
    const target = findTrack(next, selected);
    if (target && target.shape === kind) {
      next = replaceTrack(next, setKeyframe(target, frame, geometry));
      select = trackKey(target);
    } else {
      const created = newTrack(next, shape.name, kind, frame, geometry, shape.attributes);
      next = [...next, created];
      select = trackKey(created);
    }
  }
  const removed = before.filter((s) => !present.has(s.key)).map((s) => s.key);
  if (removed.length > 0) {
    next = next.filter((t) => !removed.includes(trackKey(t)));
    if (select !== null && removed.includes(select)) select = null;
  }
  return { tracks: next, selected: select };
}
