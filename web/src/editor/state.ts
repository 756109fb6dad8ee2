/**
 * The annotation editor's state (no React): the instances with their undo history, the selection, the tool and
 * label, the polygon or line being drawn, the drag under way, and the zoom/pan view; and the edits the reducer
 * (reducer.ts) and the pointer gestures (pointer.ts) make of it.
 */
import type { AttributeGroup } from "../api/types";
import { defaultAttributes } from "./attributeDefaults";
import { type Handle, type Pt, type Size, type View, enoughPoints } from "./geometry";
import { type History, commit, createHistory } from "./history";
import { type Shape, type ShapeKind, newShape } from "./instances";
import type { Tool } from "./shortcuts";

export type Drag =
  | { kind: "pan"; last: Pt }
  | { kind: "move"; key: string; start: Pt; base: Shape[] }
  | { kind: "resize"; key: string; handle: Handle; base: Shape[] }
  | { kind: "vertex"; key: string; index: number; base: Shape[] }
  | { kind: "box"; start: Pt; current: Pt };

export interface EditorState {
  history: History<Shape[]>;
  /** the instances as loaded: the editor is dirty while the present is another array */
  baseline: Shape[];
  selected: string | null;
  tool: Tool;
  /** the label new shapes and tags get */
  label: string;
  /** the schema's label names, in order (the 1-9 keys choose among them) */
  labels: string[];
  /** the schema's attribute groups: a new shape or tag starts with the defaults of its label's */
  attributeGroups: AttributeGroup[];
  /** the points of the polygon or line being drawn */
  draft: Pt[];
  /** the pointer, in image pixels, while it is over the canvas */
  hover: Pt | null;
  drag: Drag | null;
  view: View;
  viewport: Size;
  /** whether the view was fitted once both the image and the viewport sizes were known */
  fitted: boolean;
  size: Size;
  readOnly: boolean;
}

export interface EditorSetup {
  initial: Shape[];
  size: Size;
  readOnly: boolean;
  labels: string[];
  attributeGroups?: AttributeGroup[];
}

export function createEditorState({ initial, size, readOnly, labels, attributeGroups = [] }: EditorSetup): EditorState {
  return {
    history: createHistory(initial),
    baseline: initial,
    selected: null,
    tool: "select",
    label: labels[0] ?? "",
    labels,
    attributeGroups,
    draft: [],
    hover: null,
    drag: null,
    view: { scale: 1, x: 0, y: 0 },
    viewport: { width: 0, height: 0 },
    fitted: false,
    size,
    readOnly,
  };
}

export function shapesOf(state: EditorState): Shape[] {
  return state.history.present;
}

export function isDirty(state: EditorState): boolean {
  return state.history.present !== state.baseline;
}

export function selectedShape(state: EditorState): Shape | null {
  return state.history.present.find((s) => s.key === state.selected) ?? null;
}

export function withShape(shapes: Shape[], key: string, change: (shape: Shape) => Shape): Shape[] {
  return shapes.map((s) => (s.key === key ? change(s) : s));
}

/** The state with `next` as the instances, one undo step on. */
export function edit(state: EditorState, next: Shape[]): EditorState {
  return { ...state, history: commit(state.history, next) };
}

/** A new shape (or tag) of the current label, its groups' defaults filled in. */
export function newOfLabel(state: EditorState, kind: ShapeKind, points: Pt[]): Shape {
  return newShape(kind, state.label, points, defaultAttributes(state.attributeGroups, state.label));
}

export function add(state: EditorState, shape: Shape): EditorState {
  return { ...edit(state, [...shapesOf(state), shape]), selected: shape.key };
}

export function remove(state: EditorState, key: string): EditorState {
  const next = edit(state, shapesOf(state).filter((s) => s.key !== key));
  return state.selected === key ? { ...next, selected: null } : next;
}

export function finishDraft(state: EditorState): EditorState {
  const kind = state.tool === "polygon" || state.tool === "line" ? state.tool : null;
  const done = { ...state, draft: [] };
  if (!kind || !enoughPoints(kind, state.draft) || !state.label) return done;
  return add(done, newOfLabel(state, kind, state.draft));
}
