/**
 * The editor's model of an instance, converted from and to the API's instances (the Diffgram packet shape,
 * docs/design.md#instances; the API carries them as JSON objects). What the editor does not change is kept as it came
 * (ids, model scores, the server's version bookkeeping), so the server sees untouched instances as unchanged.
 */
import type { PacketInstance } from "../api/types";
import type { Pt } from "./geometry";

export type ShapeKind = "box" | "polygon" | "line" | "point" | "tag" | "global" | "other";

export const DRAWN_KINDS: ShapeKind[] = ["box", "polygon", "line", "point"];

export interface Shape {
  /** identity inside the editor (stable across edits; the server's `id` changes on every saved edit) */
  key: string;
  kind: ShapeKind;
  /** the label name ("global" for the file's own attributes) */
  name: string;
  /** box: [min corner, max corner]; polygon, line, point: the vertices; others: none */
  points: Pt[];
  attributes: Record<string, unknown>;
  /** the instance as the API gave it (empty for a new one) */
  source: PacketInstance;
}

const GEOMETRY_FIELDS = ["x_min", "y_min", "x_max", "y_max", "points"];

let sequence = 0;
export function newKey(): string {
  sequence += 1;
  return `s${sequence}`;
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function pointsOf(value: unknown): Pt[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value
    .filter((p): p is Record<string, unknown> => typeof p === "object" && p !== null)
    .map((p) => ({ x: num(p.x), y: num(p.y) }));
}

export function fromPacket(instance: PacketInstance, key: string = newKey()): Shape {
  const type = typeof instance.type === "string" ? instance.type : "";
  const name = typeof instance.name === "string" ? instance.name : "";
  const attributes =
    typeof instance.attributes === "object" && instance.attributes !== null && !Array.isArray(instance.attributes)
      ? (instance.attributes as Record<string, unknown>)
      : {};
  const base = { key, name, attributes, source: instance };
  switch (type) {
    case "box":
      return {
        ...base,
        kind: "box",
        points: [
          { x: num(instance.x_min), y: num(instance.y_min) },
          { x: num(instance.x_max), y: num(instance.y_max) },
        ],
      };
    case "polygon":
    case "line":
    case "point":
      return { ...base, kind: type, points: pointsOf(instance.points) };
    case "tag":
    case "global":
      return { ...base, kind: type, points: [] };
    default:
      return { ...base, kind: "other", points: [] };
  }
}

/** The instance to send back: the source with the editor's label, attributes and geometry over it. */
export function toPacket(shape: Shape): PacketInstance {
  if (shape.kind === "other") {
    return shape.source;
  }
  const kept = Object.fromEntries(Object.entries(shape.source).filter(([key]) => !GEOMETRY_FIELDS.includes(key)));
  const packet: PacketInstance = { ...kept, type: shape.kind, name: shape.name, attributes: shape.attributes };
  if (shape.kind === "box") {
    const [min, max] = shape.points;
    return { ...packet, x_min: min?.x ?? 0, y_min: min?.y ?? 0, x_max: max?.x ?? 0, y_max: max?.y ?? 0 };
  }
  if (shape.kind === "polygon" || shape.kind === "line" || shape.kind === "point") {
    const original = Array.isArray(shape.source.points) ? (shape.source.points as unknown[]) : [];
    // keep per-point extras (e.g. a keypoint's name) when the vertex count did not change
    const points = shape.points.map((p, i) => {
      const extra = original.length === shape.points.length ? original[i] : undefined;
      return typeof extra === "object" && extra !== null ? { ...(extra as object), x: p.x, y: p.y } : { x: p.x, y: p.y };
    });
    return { ...packet, points };
  }
  return packet;
}

export function newShape(kind: ShapeKind, name: string, points: Pt[], attributes: Record<string, unknown> = {}): Shape {
  return { key: newKey(), kind, name, points, attributes, source: {} };
}

export function describe(shape: Shape): string {
  switch (shape.kind) {
    case "box":
      return `box ${shape.name}`;
    case "polygon":
    case "line":
      return `${shape.kind} ${shape.name} (${shape.points.length} points)`;
    case "point":
      return `point ${shape.name}`;
    case "tag":
      return `tag ${shape.name}`;
    case "global":
      return "file attributes";
    default:
      return `${String(shape.source.type)} ${shape.name}`;
  }
}

/** Attributes with one group's value set, or removed when the value is empty (nothing chosen or typed). */
export function withAttribute(attributes: Record<string, unknown>, group: string, value: unknown): Record<string, unknown> {
  const next = { ...attributes };
  if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) delete next[group];
  else next[group] = value;
  return next;
}
