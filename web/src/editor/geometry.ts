/**
 * Geometry of the annotation editor, in image pixels: drawing and editing boxes, polygons, lines and points,
 * and the zoom/pan transform between the screen and the image. Pure functions; the editor renders them.
 */

export interface Pt {
  x: number;
  y: number;
}

export interface Size {
  width: number;
  height: number;
}

/** screen = image * scale + offset */
export interface View {
  scale: number;
  x: number;
  y: number;
}

export type Handle = "nw" | "n" | "ne" | "e" | "se" | "s" | "sw" | "w";
export const HANDLES: Handle[] = ["nw", "n", "ne", "e", "se", "s", "sw", "w"];

export const MIN_BOX = 2; // px: a click is not a box
export const MIN_SCALE = 0.05;
export const MAX_SCALE = 40;

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function clamp(p: Pt, size: Size): Pt {
  return {
    x: round(Math.min(size.width, Math.max(0, p.x))),
    y: round(Math.min(size.height, Math.max(0, p.y))),
  };
}

/** The two corners (min, max) of the box spanned by a and b. */
export function normalizeBox(a: Pt, b: Pt): [Pt, Pt] {
  return [
    { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y) },
    { x: Math.max(a.x, b.x), y: Math.max(a.y, b.y) },
  ];
}

/** The box a drag from `a` to `b` draws, inside the image; null when it is too small to be meant. */
export function boxFromDrag(a: Pt, b: Pt, size: Size): [Pt, Pt] | null {
  const [min, max] = normalizeBox(clamp(a, size), clamp(b, size));
  if (max.x - min.x < MIN_BOX || max.y - min.y < MIN_BOX) {
    return null;
  }
  return [min, max];
}

/** The box after dragging one of its handles to `p` (it may flip; it stays normalized and inside). */
export function resizeBox(box: [Pt, Pt], handle: Handle, p: Pt, size: Size): [Pt, Pt] {
  const q = clamp(p, size);
  let [{ x: x0, y: y0 }, { x: x1, y: y1 }] = box;
  if (handle.includes("w")) x0 = q.x;
  if (handle.includes("e")) x1 = q.x;
  if (handle.includes("n")) y0 = q.y;
  if (handle.includes("s")) y1 = q.y;
  return normalizeBox({ x: x0, y: y0 }, { x: x1, y: y1 });
}

/** Where a box handle sits. */
export function handlePosition(box: [Pt, Pt], handle: Handle): Pt {
  const [min, max] = box;
  const cx = (min.x + max.x) / 2;
  const cy = (min.y + max.y) / 2;
  return {
    x: handle.includes("w") ? min.x : handle.includes("e") ? max.x : cx,
    y: handle.includes("n") ? min.y : handle.includes("s") ? max.y : cy,
  };
}

export function bounds(points: Pt[]): [Pt, Pt] {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  return [
    { x: Math.min(...xs), y: Math.min(...ys) },
    { x: Math.max(...xs), y: Math.max(...ys) },
  ];
}

/** All points moved by (dx, dy), the move limited so the shape stays inside the image. */
export function translate(points: Pt[], dx: number, dy: number, size: Size): Pt[] {
  if (points.length === 0) {
    return points;
  }
  const [min, max] = bounds(points);
  const cx = Math.min(size.width - max.x, Math.max(-min.x, dx));
  const cy = Math.min(size.height - max.y, Math.max(-min.y, dy));
  return points.map((p) => ({ x: round(p.x + cx), y: round(p.y + cy) }));
}

export function moveVertex(points: Pt[], index: number, p: Pt, size: Size): Pt[] {
  return points.map((q, i) => (i === index ? clamp(p, size) : q));
}

/** A vertex added on the edge after `index` (a polygon's last edge closes back to the first point). */
export function insertVertex(points: Pt[], index: number, p: Pt, size: Size): Pt[] {
  return [...points.slice(0, index + 1), clamp(p, size), ...points.slice(index + 1)];
}

/** Points without vertex `index`, unless that leaves fewer than `minimum`. */
export function removeVertex(points: Pt[], index: number, minimum: number): Pt[] {
  return points.length > minimum ? points.filter((_, i) => i !== index) : points;
}

export function distance(a: Pt, b: Pt): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Whether a click at `p` closes the polygon being drawn: near its first point, with 3 points or more. */
export function closesPolygon(points: Pt[], p: Pt, tolerance: number): boolean {
  const first = points[0];
  return first !== undefined && points.length >= 3 && distance(first, p) <= tolerance;
}

export const MIN_POINTS: Record<string, number> = { polygon: 3, line: 2, point: 1 };

export function enoughPoints(kind: string, points: Pt[]): boolean {
  return points.length >= (MIN_POINTS[kind] ?? 1);
}

// --- zoom and pan ---------------------------------------------------------------------------------------

export function toImage(view: View, screen: Pt): Pt {
  return { x: (screen.x - view.x) / view.scale, y: (screen.y - view.y) / view.scale };
}

export function toScreen(view: View, image: Pt): Pt {
  return { x: image.x * view.scale + view.x, y: image.y * view.scale + view.y };
}

/** The view that shows the whole image centred in the viewport, with a margin. */
export function fit(image: Size, viewport: Size, margin = 16): View {
  if (image.width <= 0 || image.height <= 0 || viewport.width <= 0 || viewport.height <= 0) {
    return { scale: 1, x: 0, y: 0 };
  }
  const scale = Math.min(
    (viewport.width - 2 * margin) / image.width,
    (viewport.height - 2 * margin) / image.height,
  );
  const clamped = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
  return {
    scale: clamped,
    x: (viewport.width - image.width * clamped) / 2,
    y: (viewport.height - image.height * clamped) / 2,
  };
}

/** Zoom by `factor` keeping the image point under `screen` where it is (the cursor, or the centre). */
export function zoomAt(view: View, factor: number, screen: Pt): View {
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor));
  const anchor = toImage(view, screen);
  return { scale, x: screen.x - anchor.x * scale, y: screen.y - anchor.y * scale };
}

export function pan(view: View, dx: number, dy: number): View {
  return { ...view, x: view.x + dx, y: view.y + dy };
}

/** A wheel event's zoom factor: pinch on a trackpad arrives as a wheel with ctrlKey and small deltas. */
export function wheelZoomFactor(deltaY: number, deltaMode: number): number {
  const pixels = deltaMode === 1 ? deltaY * 16 : deltaMode === 2 ? deltaY * 400 : deltaY;
  return Math.exp(-pixels / 300);
}
