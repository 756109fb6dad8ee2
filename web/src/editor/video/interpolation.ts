/**
 * A track's shape on any frame, from its keyframes: a line-for-line port of the server's
 * `domain/video/interpolation.py` (the rules are documented there), checked against the same golden cases
 * (`tests/golden/video_interpolation.json`), so the editor shows exactly what the API and the exports derive.
 */

import type { Pt } from "../geometry";

export type { Pt } from "../geometry";

export type TrackShape = "box" | "polygon" | "point";

/** A keyframe as stored: the frame, the geometry of the track's shape, and the per-frame flags. */
export interface Keyframe {
  frame: number;
  x_min?: number;
  y_min?: number;
  x_max?: number;
  y_max?: number;
  points?: Pt[];
  outside?: boolean;
  occluded?: boolean;
  attributes?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** A `track` instance as the API carries it (other fields are kept as they came). */
export interface Track {
  type: "track";
  name: string;
  track_id: number;
  shape: TrackShape;
  attributes?: Record<string, unknown>;
  keyframes: Keyframe[];
  [extra: string]: unknown;
}

export interface Geometry {
  x_min?: number;
  y_min?: number;
  x_max?: number;
  y_max?: number;
  points?: Pt[];
}

export interface TrackState extends Geometry {
  frame: number;
  keyframe: boolean;
  interpolated: boolean;
  outside: boolean;
  occluded: boolean;
  attributes: Record<string, unknown>;
}

export const BOX_FIELDS = ["x_min", "y_min", "x_max", "y_max"] as const;

export function lerp(va: number, vb: number, t: number): number {
  return va + (vb - va) * t;
}

function edgeLength(p: Pt, q: Pt): number {
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  return Math.sqrt(dx * dx + dy * dy);
}

/** The closed ring `points` with `count - points.length` points added along its edges, by perimeter share. */
export function densify(points: Pt[], count: number): Pt[] {
  const m = points.length;
  const k = count - m;
  if (k <= 0) return points.map((p) => ({ x: p.x, y: p.y }));
  const lengths = points.map((p, i) => edgeLength(p, points[(i + 1) % m] as Pt));
  let perimeter = 0;
  for (const length of lengths) perimeter += length;
  let given: number[];
  if (perimeter === 0) {
    given = points.map((_, i) => (i === 0 ? k : 0));
  } else {
    const quotas = lengths.map((length) => (k * length) / perimeter);
    given = quotas.map((q) => Math.floor(q));
    const left = k - given.reduce((a, b) => a + b, 0);
    const remainder = (i: number) => (quotas[i] as number) - (given[i] as number);
    const byRemainder = points.map((_, i) => i).sort((i, j) => remainder(j) - remainder(i) || i - j);
    for (const i of byRemainder.slice(0, left)) given[i] = (given[i] as number) + 1;
  }
  const out: Pt[] = [];
  for (let i = 0; i < m; i += 1) {
    const p = points[i] as Pt;
    const q = points[(i + 1) % m] as Pt;
    out.push({ x: p.x, y: p.y });
    const c = given[i] as number;
    for (let j = 1; j <= c; j += 1) {
      const s = j / (c + 1);
      out.push({ x: lerp(p.x, q.x, s), y: lerp(p.y, q.y, s) });
    }
  }
  return out;
}

/** Two polygons with the point count of the larger (the smaller one densified). */
export function equalize(a: Pt[], b: Pt[]): [Pt[], Pt[]] {
  const count = Math.max(a.length, b.length);
  return [densify(a, count), densify(b, count)];
}

export function geometryOf(shape: TrackShape, keyframe: Geometry): Geometry {
  if (shape === "box") {
    return { x_min: keyframe.x_min, y_min: keyframe.y_min, x_max: keyframe.x_max, y_max: keyframe.y_max };
  }
  return { points: (keyframe.points ?? []).map((p) => ({ x: p.x, y: p.y })) };
}

function between(shape: TrackShape, a: Keyframe, b: Keyframe, t: number): Geometry {
  if (shape === "box") {
    const out: Geometry = {};
    for (const f of BOX_FIELDS) out[f] = lerp(a[f] ?? 0, b[f] ?? 0, t);
    return out;
  }
  let pa = a.points ?? [];
  let pb = b.points ?? [];
  if (pa.length !== pb.length) [pa, pb] = equalize(pa, pb);
  return { points: pa.map((p, i) => ({ x: lerp(p.x, (pb[i] as Pt).x, t), y: lerp(p.y, (pb[i] as Pt).y, t) })) };
}

function stateOf(track: Track, key: Keyframe, frame: number, geometry: Geometry): TrackState {
  const on = key.frame === frame;
  return {
    frame,
    keyframe: on,
    interpolated: !on,
    outside: on ? Boolean(key.outside) : false,
    occluded: Boolean(key.occluded),
    attributes: { ...(track.attributes ?? {}), ...(key.attributes ?? {}) },
    ...geometry,
  };
}

/** The index of the last keyframe at or before `frame` (-1 when none): bisect_right - 1. */
export function keyframeIndexAt(keyframes: Keyframe[], frame: number): number {
  let lo = 0;
  let hi = keyframes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (frame < (keyframes[mid] as Keyframe).frame) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}

/** The track on `frame` (outside keyframes included, with `outside: true`), or null where it has no shape. */
export function stateAt(track: Track, frame: number): TrackState | null {
  const keys = track.keyframes;
  const i = keyframeIndexAt(keys, frame);
  if (i < 0) return null;
  const a = keys[i] as Keyframe;
  const shape = track.shape;
  if (a.frame === frame) return stateOf(track, a, frame, geometryOf(shape, a));
  if (a.outside) return null;
  const b = keys[i + 1];
  if (b === undefined || b.outside) return stateOf(track, a, frame, geometryOf(shape, a));
  const t = (frame - a.frame) / (b.frame - a.frame);
  return stateOf(track, a, frame, between(shape, a, b, t));
}

/** The track's visible shape on `frame`, or null (not started, or outside). */
export function shapeAt(track: Track, frame: number): TrackState | null {
  const state = stateAt(track, frame);
  return state === null || state.outside ? null : state;
}
