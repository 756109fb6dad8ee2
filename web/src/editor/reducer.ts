/**
 * The annotation editor's reducer: every change to its state (state.ts) as an action. Pure; the editor's input
 * handling (input.ts) turns key presses, the wheel and pointer events into these actions. A read-only editor
 * ignores every action that would change the instances.
 */
import type { AttributeGroup } from "../api/types";
import { type Pt, type Size, fit, pan, translate, zoomAt } from "./geometry";
import { createHistory, redo, undo } from "./history";
import { type Shape, DRAWN_KINDS, newShape, withAttribute } from "./instances";
import { type Hit, doubleClick, pointerDown, pointerMove, pointerUp } from "./pointer";
import type { Tool } from "./shortcuts";
import { type EditorState, edit, finishDraft, newOfLabel, remove, selectedShape, shapesOf, withShape } from "./state";

export type EditorAction =
  /** `attributeGroups`: the schema's (kept as they are when absent) */
  | { type: "configure"; size: Size; readOnly: boolean; labels: string[]; attributeGroups?: AttributeGroup[] }
  | { type: "reset"; initial: Shape[] }
  | { type: "viewport"; viewport: Size }
  | { type: "tool"; tool: Tool }
  | { type: "label"; name: string }
  | { type: "label-at"; index: number }
  | { type: "tag" }
  | { type: "remove"; key: string }
  | { type: "select"; key: string | null }
  | { type: "select-next" }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "delete" }
  | { type: "finish" }
  | { type: "cancel" }
  | { type: "nudge"; dx: number; dy: number }
  /** `key` null: the file's own attributes (its global instance, made on the first value) */
  | { type: "attribute"; key: string | null; group: string; value: unknown }
  /** `at` in screen pixels; the viewport's centre when absent */
  | { type: "zoom"; factor: number; at?: Pt }
  | { type: "pan"; dx: number; dy: number }
  | { type: "fit" }
  | { type: "pointer-down"; at: Pt; hit: Hit; pan: boolean }
  | { type: "pointer-move"; at: Pt }
  | { type: "pointer-up"; at: Pt }
  | { type: "pointer-leave" }
  | { type: "double-click"; at: Pt; hit: Hit };

function chooseLabel(state: EditorState, name: string): EditorState {
  const next = { ...state, label: name };
  const shape = selectedShape(state);
  if (shape && !state.readOnly && DRAWN_KINDS.includes(shape.kind) && shape.name !== name) {
    return edit(next, withShape(shapesOf(state), shape.key, (s) => ({ ...s, name })));
  }
  return next;
}

function setAttribute(state: EditorState, key: string | null, group: string, value: unknown): EditorState {
  const apply = (s: Shape): Shape => ({ ...s, attributes: withAttribute(s.attributes, group, value) });
  const shapes = shapesOf(state);
  const target = key ?? shapes.find((s) => s.kind === "global")?.key;
  if (target === undefined) {
    return edit(state, [...shapes, apply(newShape("global", "global", []))]);
  }
  return edit(state, withShape(shapes, target, apply));
}

/** The first fit, once the image and the viewport both have a size. */
function fitOnce(state: EditorState): EditorState {
  if (state.fitted || state.viewport.width <= 0 || state.size.width <= 0) return state;
  return { ...state, view: fit(state.size, state.viewport), fitted: true };
}

/** The actions a read-only editor ignores: they would change the instances or start drawing. */
const EDITS = new Set<EditorAction["type"]>([
  "tag",
  "remove",
  "undo",
  "redo",
  "delete",
  "finish",
  "nudge",
  "attribute",
  "double-click",
]);

export function editorReducer(state: EditorState, action: EditorAction): EditorState {
  if (state.readOnly && EDITS.has(action.type)) return state;
  switch (action.type) {
    case "configure": {
      const { size, readOnly, labels, attributeGroups = state.attributeGroups } = action;
      const same =
        size.width === state.size.width &&
        size.height === state.size.height &&
        readOnly === state.readOnly &&
        labels.join("\n") === state.labels.join("\n") &&
        attributeGroups === state.attributeGroups;
      if (same) return state;
      const label = labels.includes(state.label) || labels[0] === undefined ? state.label : labels[0];
      return fitOnce({ ...state, size, readOnly, labels, label, attributeGroups });
    }
    case "reset":
      return { ...state, history: createHistory(action.initial), baseline: action.initial, selected: null, draft: [] };
    case "viewport":
      return fitOnce({ ...state, viewport: action.viewport });
    case "tool":
      return state.readOnly && action.tool !== "select" ? state : { ...state, tool: action.tool, draft: [] };
    case "label":
      return chooseLabel(state, action.name);
    case "label-at": {
      const name = state.labels[action.index];
      return name === undefined ? state : chooseLabel(state, name);
    }
    case "tag": {
      const { label } = state;
      if (!label || shapesOf(state).some((s) => s.kind === "tag" && s.name === label)) return state;
      return edit(state, [...shapesOf(state), newOfLabel(state, "tag", [])]);
    }
    case "remove":
      return remove(state, action.key);
    case "select":
      return { ...state, selected: action.key };
    case "select-next": {
      const drawn = shapesOf(state).filter((s) => s.points.length > 0);
      if (drawn.length === 0) return state;
      const index = drawn.findIndex((s) => s.key === state.selected);
      return { ...state, selected: drawn[(index + 1) % drawn.length]?.key ?? null };
    }
    case "undo":
      return { ...state, history: undo(state.history) };
    case "redo":
      return { ...state, history: redo(state.history) };
    case "delete":
      if (state.draft.length > 0) return { ...state, draft: state.draft.slice(0, -1) };
      return state.selected ? remove(state, state.selected) : state;
    case "finish":
      return finishDraft(state);
    case "cancel":
      return state.draft.length > 0 ? { ...state, draft: [] } : { ...state, selected: null };
    case "nudge": {
      const shape = selectedShape(state);
      if (!shape || shape.points.length === 0) return state;
      const points = translate(shape.points, action.dx, action.dy, state.size);
      return edit(state, withShape(shapesOf(state), shape.key, (s) => ({ ...s, points })));
    }
    case "attribute":
      return setAttribute(state, action.key, action.group, action.value);
    case "zoom": {
      const at = action.at ?? { x: state.viewport.width / 2, y: state.viewport.height / 2 };
      return { ...state, view: zoomAt(state.view, action.factor, at) };
    }
    case "pan":
      return { ...state, view: pan(state.view, action.dx, action.dy) };
    case "fit":
      return { ...state, view: fit(state.size, state.viewport) };
    case "pointer-down":
      return pointerDown(state, action.at, action.hit, action.pan);
    case "pointer-move":
      return pointerMove(state, action.at);
    case "pointer-up":
      return pointerUp(state, action.at);
    case "pointer-leave":
      return { ...state, hover: null };
    case "double-click":
      return doubleClick(state, action.at, action.hit);
  }
}
