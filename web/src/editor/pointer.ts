/**
 * The editor's pointer gestures on the canvas, as pure state changes: select, move, resize and reshape shapes,
 * draw boxes, points, polygons and lines, pan. Points arrive in screen pixels and are mapped through the view.
 */
import {
  type Handle,
  type Pt,
  MIN_POINTS,
  boxFromDrag,
  clamp,
  closesPolygon,
  insertVertex,
  moveVertex,
  pan,
  removeVertex,
  resizeBox,
  toImage,
  translate,
} from "./geometry";
import { commit, replace } from "./history";
import type { Shape } from "./instances";
import { type EditorState, add, edit, finishDraft, newOfLabel, shapesOf, withShape } from "./state";

/** What a pointer landed on: the data-* attributes of the canvas element under it. */
export interface Hit {
  shape?: string;
  handle?: Handle;
  vertex?: number;
  edge?: number;
  /** set on a comparison layer's shapes, which are never selected or edited */
  layer?: string;
}

export function pointerDown(state: EditorState, at: Pt, hit: Hit, panning: boolean): EditorState {
  const p = toImage(state.view, at);
  const shapes = shapesOf(state);
  if (panning) return { ...state, drag: { kind: "pan", last: at } };
  if (state.readOnly || state.tool === "select") {
    const key = hit.shape;
    const editable = !state.readOnly;
    if (editable && key && hit.handle) {
      return { ...state, selected: key, drag: { kind: "resize", key, handle: hit.handle, base: shapes } };
    }
    if (editable && key && hit.vertex !== undefined) {
      return { ...state, selected: key, drag: { kind: "vertex", key, index: hit.vertex, base: shapes } };
    }
    if (key && hit.layer === undefined) {
      return { ...state, selected: key, drag: editable ? { kind: "move", key, start: p, base: shapes } : state.drag };
    }
    return { ...state, selected: null, drag: { kind: "pan", last: at } };
  }
  if (!state.label) return state;
  switch (state.tool) {
    case "box":
      return { ...state, drag: { kind: "box", start: p, current: p } };
    case "point":
      return add(state, newOfLabel(state, "point", [clamp(p, state.size)]));
    case "polygon":
    case "line":
      if (state.tool === "polygon" && closesPolygon(state.draft, p, 8 / state.view.scale)) return finishDraft(state);
      return { ...state, draft: [...state.draft, clamp(p, state.size)] };
  }
}

export function pointerMove(state: EditorState, at: Pt): EditorState {
  const p = toImage(state.view, at);
  const hovered = { ...state, hover: p };
  const { drag, size } = state;
  if (!drag) return hovered;
  const dragged = (base: Shape[], key: string, change: (s: Shape) => Shape) => ({
    ...hovered,
    history: replace(state.history, withShape(base, key, change)),
  });
  switch (drag.kind) {
    case "pan":
      return { ...hovered, view: pan(state.view, at.x - drag.last.x, at.y - drag.last.y), drag: { ...drag, last: at } };
    case "move":
      return dragged(drag.base, drag.key, (s) => ({
        ...s,
        points: translate(s.points, p.x - drag.start.x, p.y - drag.start.y, size),
      }));
    case "resize":
      return dragged(drag.base, drag.key, (s) => ({
        ...s,
        points: resizeBox(s.points as [Pt, Pt], drag.handle, p, size),
      }));
    case "vertex":
      return dragged(drag.base, drag.key, (s) => ({ ...s, points: moveVertex(s.points, drag.index, p, size) }));
    case "box":
      return { ...hovered, drag: { ...drag, current: p } };
  }
}

export function pointerUp(state: EditorState, at: Pt): EditorState {
  const { drag } = state;
  if (!drag) return state;
  const done = { ...state, drag: null };
  if (drag.kind === "box") {
    const box = boxFromDrag(drag.start, toImage(state.view, at), state.size);
    return box && state.label ? add(done, newOfLabel(state, "box", box)) : done;
  }
  if (drag.kind === "move" || drag.kind === "resize" || drag.kind === "vertex") {
    // the whole drag is one undo step, back to the instances before it began
    return { ...done, history: commit(state.history, state.history.present, drag.base) };
  }
  return done;
}

export function doubleClick(state: EditorState, at: Pt, hit: Hit): EditorState {
  if ((state.tool === "polygon" || state.tool === "line") && state.draft.length > 0) return finishDraft(state);
  const shape = shapesOf(state).find((s) => s.key === hit.shape);
  if (!shape) return state;
  if (hit.vertex !== undefined) {
    const vertex = hit.vertex;
    const minimum = MIN_POINTS[shape.kind] ?? 1;
    return edit(
      state,
      withShape(shapesOf(state), shape.key, (s) => ({ ...s, points: removeVertex(s.points, vertex, minimum) })),
    );
  }
  if (hit.edge !== undefined) {
    const edge = hit.edge;
    const p = toImage(state.view, at);
    return edit(
      state,
      withShape(shapesOf(state), shape.key, (s) => ({ ...s, points: insertVertex(s.points, edge, p, state.size) })),
    );
  }
  return state;
}
