import { describe, expect, it } from "vitest";

import { toImage } from "./geometry";
import { canRedo, canUndo } from "./history";
import { type Shape, newShape } from "./instances";
import { type EditorAction, editorReducer } from "./reducer";
import { type EditorState, createEditorState, isDirty, selectedShape, shapesOf } from "./state";

const SIZE = { width: 100, height: 80 };

function start(initial: Shape[] = [], readOnly = false): EditorState {
  return createEditorState({ initial, size: SIZE, readOnly, labels: ["car", "person"] });
}

function run(state: EditorState, ...actions: EditorAction[]): EditorState {
  return actions.reduce(editorReducer, state);
}

/** A pointer drag from `a` to `b` (screen pixels) on whatever `hit` names. */
function drag(state: EditorState, a: { x: number; y: number }, b: { x: number; y: number }, hit = {}): EditorState {
  return run(
    state,
    { type: "pointer-down", at: a, hit, pan: false },
    { type: "pointer-move", at: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } },
    { type: "pointer-move", at: b },
    { type: "pointer-up", at: b },
  );
}

function click(state: EditorState, at: { x: number; y: number }, hit = {}): EditorState {
  return run(state, { type: "pointer-down", at, hit, pan: false }, { type: "pointer-up", at });
}

function boxAt(x0: number, y0: number, x1: number, y1: number, name = "car"): Shape {
  return newShape("box", name, [
    { x: x0, y: y0 },
    { x: x1, y: y1 },
  ]);
}

describe("drawing", () => {
  it("draws a box with the current label, selects it, and makes it one undo step", () => {
    let state = run(start(), { type: "tool", tool: "box" });
    state = drag(state, { x: 10, y: 10 }, { x: 40, y: 30 });
    const [box] = shapesOf(state);
    expect(box).toMatchObject({ kind: "box", name: "car", points: [{ x: 10, y: 10 }, { x: 40, y: 30 }] });
    expect(state.selected).toBe(box?.key);
    expect(state.drag).toBeNull();
    expect(isDirty(state)).toBe(true);
    expect(shapesOf(run(state, { type: "undo" }))).toEqual([]);
  });

  it("maps the screen through the fitted view, keeps boxes inside the image and ignores a click", () => {
    // 200x160 viewport: the 100x80 image fits at 1.6x, 20 px from the left and 16 px from the top
    let state = run(start(), { type: "viewport", viewport: { width: 200, height: 160 } }, { type: "tool", tool: "box" });
    expect(state.view).toEqual({ scale: 1.6, x: 20, y: 16 });
    expect(toImage(state.view, { x: 36, y: 32 })).toEqual({ x: 10, y: 10 });
    state = drag(state, { x: 36, y: 32 }, { x: 400, y: 400 });
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 10, y: 10 }, { x: 100, y: 80 }]);
    expect(shapesOf(click(state, { x: 60, y: 60 }))).toHaveLength(1);
  });

  it("shows the box being dragged out before it is added", () => {
    let state = run(start(), { type: "tool", tool: "box" }, { type: "pointer-down", at: { x: 5, y: 5 }, hit: {}, pan: false });
    state = run(state, { type: "pointer-move", at: { x: 25, y: 15 } });
    expect(state.drag).toEqual({ kind: "box", start: { x: 5, y: 5 }, current: { x: 25, y: 15 } });
    expect(shapesOf(state)).toEqual([]);
  });

  it("draws a polygon point by point and closes it on its first point", () => {
    let state = run(start(), { type: "tool", tool: "polygon" });
    state = click(click(click(state, { x: 10, y: 10 }), { x: 50, y: 10 }), { x: 30, y: 40 });
    expect(state.draft).toHaveLength(3);
    expect(shapesOf(state)).toEqual([]);
    state = run(state, { type: "pointer-move", at: { x: 20, y: 20 } });
    expect(state.hover).toEqual({ x: 20, y: 20 });
    state = click(state, { x: 12, y: 11 }); // within 8 px of the first point
    expect(state.draft).toEqual([]);
    expect(shapesOf(state)).toMatchObject([{ kind: "polygon", name: "car", points: [{ x: 10, y: 10 }, { x: 50, y: 10 }, { x: 30, y: 40 }] }]);
    expect(selectedShape(state)?.kind).toBe("polygon");
  });

  it("finishes a line on Enter, takes back the last point on Delete, and drops a draft on Escape", () => {
    let state = run(start(), { type: "tool", tool: "line" });
    state = click(click(click(state, { x: 1, y: 1 }), { x: 9, y: 9 }), { x: 20, y: 5 });
    state = run(state, { type: "delete" });
    expect(state.draft).toEqual([{ x: 1, y: 1 }, { x: 9, y: 9 }]);
    const finished = run(state, { type: "finish" });
    expect(shapesOf(finished)).toMatchObject([{ kind: "line", points: [{ x: 1, y: 1 }, { x: 9, y: 9 }] }]);
    const cancelled = run(state, { type: "cancel" });
    expect(cancelled.draft).toEqual([]);
    expect(shapesOf(cancelled)).toEqual([]);
    // a line needs two points: one is not enough
    expect(shapesOf(run(click(run(start(), { type: "tool", tool: "line" }), { x: 1, y: 1 }), { type: "finish" }))).toEqual([]);
  });

  it("places a point per click, and switching tools drops a draft", () => {
    let state = run(start(), { type: "tool", tool: "point" });
    state = click(click(state, { x: 5, y: 6 }), { x: 200, y: -3 });
    expect(shapesOf(state).map((s) => s.points)).toEqual([[{ x: 5, y: 6 }], [{ x: 100, y: 0 }]]);
    state = click(run(state, { type: "tool", tool: "polygon" }), { x: 1, y: 1 });
    expect(run(state, { type: "tool", tool: "select" }).draft).toEqual([]);
  });

  it("tags the file with the current label once", () => {
    const state = run(start(), { type: "tag" }, { type: "tag" }, { type: "label-at", index: 1 }, { type: "tag" });
    expect(shapesOf(state).map((s) => [s.kind, s.name])).toEqual([
      ["tag", "car"],
      ["tag", "person"],
    ]);
  });
});

describe("editing", () => {
  it("moves a shape by dragging it, inside the image, as one undo step", () => {
    const box = boxAt(10, 10, 30, 20);
    let state = drag(start([box]), { x: 15, y: 15 }, { x: 20, y: 25 }, { shape: box.key });
    expect(state.selected).toBe(box.key);
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 15, y: 20 }, { x: 35, y: 30 }]);
    expect(state.history.past).toHaveLength(1);
    expect(shapesOf(run(state, { type: "undo" }))[0]?.points).toEqual(box.points);
    state = drag(state, { x: 20, y: 20 }, { x: 500, y: 500 }, { shape: box.key });
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 80, y: 70 }, { x: 100, y: 80 }]);
  });

  it("resizes a box by a handle, and moves a polygon's vertex", () => {
    const box = boxAt(10, 10, 30, 20);
    let state = drag(start([box]), { x: 30, y: 20 }, { x: 50, y: 45 }, { shape: box.key, handle: "se" });
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 10, y: 10 }, { x: 50, y: 45 }]);
    state = drag(state, { x: 10, y: 10 }, { x: 70, y: 5 }, { shape: box.key, handle: "nw" }); // flips, stays normalized
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 50, y: 5 }, { x: 70, y: 45 }]);

    const triangle = newShape("polygon", "car", [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 5, y: 8 }]);
    state = drag(start([triangle]), { x: 5, y: 8 }, { x: 6, y: 30 }, { shape: triangle.key, vertex: 2 });
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 6, y: 30 }]);
  });

  it("adds a vertex on a double-clicked edge and removes a double-clicked one, down to the minimum", () => {
    const triangle = newShape("polygon", "car", [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 5, y: 8 }]);
    let state = run(start([triangle]), { type: "double-click", at: { x: 5, y: 0 }, hit: { shape: triangle.key, edge: 0 } });
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 0, y: 0 }, { x: 5, y: 0 }, { x: 10, y: 0 }, { x: 5, y: 8 }]);
    state = run(state, { type: "double-click", at: { x: 5, y: 0 }, hit: { shape: triangle.key, vertex: 1 } });
    expect(shapesOf(state)[0]?.points).toEqual(triangle.points);
    state = run(state, { type: "double-click", at: { x: 0, y: 0 }, hit: { shape: triangle.key, vertex: 0 } });
    expect(shapesOf(state)[0]?.points).toHaveLength(3);
  });

  it("nudges the selected shape with the arrow keys, not past the image's edge", () => {
    const box = boxAt(10, 10, 30, 20);
    const loaded = start([box]);
    expect(run(loaded, { type: "nudge", dx: 1, dy: 0 })).toBe(loaded); // nothing selected: nothing moves
    let state = run(loaded, { type: "select", key: box.key }, { type: "nudge", dx: -10, dy: 10 });
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 0, y: 20 }, { x: 20, y: 30 }]);
    state = run(state, { type: "nudge", dx: -10, dy: 0 });
    expect(shapesOf(state)[0]?.points).toEqual([{ x: 0, y: 20 }, { x: 20, y: 30 }]);
  });

  it("relabels the selected shape when another label is chosen", () => {
    const box = boxAt(10, 10, 30, 20);
    let state = run(start([box]), { type: "label", name: "person" });
    expect(shapesOf(state)[0]?.name).toBe("car"); // nothing selected: only the label for new shapes changes
    expect(state.label).toBe("person");
    state = run(state, { type: "select", key: box.key }, { type: "label-at", index: 0 });
    expect(shapesOf(state)[0]?.name).toBe("car");
    state = run(state, { type: "label", name: "person" });
    expect(shapesOf(state)[0]?.name).toBe("person");
    expect(shapesOf(run(state, { type: "undo" }))[0]?.name).toBe("car");
  });

  it("deletes the selected shape, or one by its key, and undo brings it back", () => {
    const a = boxAt(1, 1, 5, 5);
    const b = boxAt(10, 10, 20, 20);
    let state = run(start([a, b]), { type: "select", key: a.key }, { type: "remove", key: b.key });
    expect(shapesOf(state)).toEqual([a]);
    expect(state.selected).toBe(a.key); // another shape's removal keeps the selection
    state = run(state, { type: "delete" });
    expect(shapesOf(state)).toEqual([]);
    expect(state.selected).toBeNull();
    expect(run(state, { type: "delete" })).toBe(state); // nothing selected, nothing drawn: nothing to delete
    expect(shapesOf(run(state, { type: "undo" }, { type: "undo" }))).toEqual([a, b]);
  });

  it("sets, replaces and clears an instance's attributes, and the file's own", () => {
    const box = boxAt(1, 1, 5, 5);
    let state = run(start([box]), { type: "attribute", key: box.key, group: "occluded", value: "no" });
    state = run(state, { type: "attribute", key: box.key, group: "colours", value: ["red"] });
    expect(shapesOf(state)[0]?.attributes).toEqual({ occluded: "no", colours: ["red"] });
    state = run(state, { type: "attribute", key: box.key, group: "colours", value: [] });
    state = run(state, { type: "attribute", key: box.key, group: "occluded", value: "" });
    expect(shapesOf(state)[0]?.attributes).toEqual({});

    state = run(state, { type: "attribute", key: null, group: "weather", value: "rain" });
    state = run(state, { type: "attribute", key: null, group: "time", value: "night" });
    const globals = shapesOf(state).filter((s) => s.kind === "global");
    expect(globals).toHaveLength(1);
    expect(globals[0]?.attributes).toEqual({ weather: "rain", time: "night" });
  });
});

describe("selection", () => {
  it("selects by click, cycles through drawn shapes with Tab, and Escape deselects", () => {
    const a = boxAt(1, 1, 5, 5);
    const tag = newShape("tag", "car", []);
    const b = boxAt(10, 10, 20, 20);
    let state = click(start([a, tag, b]), { x: 3, y: 3 }, { shape: a.key });
    expect(state.selected).toBe(a.key);
    state = run(state, { type: "select-next" });
    expect(state.selected).toBe(b.key);
    state = run(state, { type: "select-next" });
    expect(state.selected).toBe(a.key);
    expect(run(state, { type: "cancel" }).selected).toBeNull();
    expect(run(start([tag]), { type: "select-next" }).selected).toBeNull();
  });

  it("deselects and pans on the empty image, and never selects a comparison layer's shape", () => {
    const a = boxAt(1, 1, 5, 5);
    let state = run(start([a]), { type: "select", key: a.key });
    state = run(state, { type: "pointer-down", at: { x: 50, y: 50 }, hit: {}, pan: false });
    expect(state.selected).toBeNull();
    state = run(state, { type: "pointer-move", at: { x: 60, y: 45 } }, { type: "pointer-up", at: { x: 60, y: 45 } });
    expect(state.view).toEqual({ scale: 1, x: 10, y: -5 });
    expect(shapesOf(state)).toEqual([a]);
    state = click(state, { x: 3, y: 3 }, { shape: "theirs", layer: "task-1" });
    expect(state.selected).toBeNull();
  });
});

describe("history and dirty tracking", () => {
  it("is clean as loaded, dirty after an edit, clean again when undone to the loaded instances", () => {
    const box = boxAt(1, 1, 5, 5);
    let state = start([box]);
    expect(isDirty(state)).toBe(false);
    expect(canUndo(state.history)).toBe(false);
    state = run(state, { type: "tag" });
    expect(isDirty(state)).toBe(true);
    state = run(state, { type: "undo" });
    expect(isDirty(state)).toBe(false);
    expect(canRedo(state.history)).toBe(true);
    state = run(state, { type: "redo" });
    expect(isDirty(state)).toBe(true);
    expect(shapesOf(state).map((s) => s.kind)).toEqual(["box", "tag"]);
  });

  it("starts over from new instances on reset: clean, nothing to undo, nothing selected or drawn", () => {
    const box = boxAt(1, 1, 5, 5);
    let state = run(start(), { type: "tag" }, { type: "tool", tool: "line" });
    state = click(state, { x: 1, y: 1 });
    state = run(state, { type: "reset", initial: [box] });
    expect(shapesOf(state)).toEqual([box]);
    expect(isDirty(state)).toBe(false);
    expect(canUndo(state.history)).toBe(false);
    expect(state.draft).toEqual([]);
    expect(state.selected).toBeNull();
  });

  it("takes a whole drag back in one undo, even across several moves", () => {
    const box = boxAt(10, 10, 30, 20);
    let state = run(
      start([box]),
      { type: "pointer-down", at: { x: 15, y: 15 }, hit: { shape: box.key }, pan: false },
      { type: "pointer-move", at: { x: 16, y: 15 } },
      { type: "pointer-move", at: { x: 18, y: 15 } },
      { type: "pointer-move", at: { x: 25, y: 15 } },
    );
    expect(state.history.past).toHaveLength(0); // still dragging: no undo step yet
    state = run(state, { type: "pointer-up", at: { x: 25, y: 15 } });
    expect(state.history.past).toHaveLength(1);
    expect(shapesOf(run(state, { type: "undo" }))).toEqual([box]);
  });
});

describe("configuration and view", () => {
  it("keeps the label while the schema still has it, and otherwise takes the first", () => {
    let state = run(start(), { type: "label", name: "person" });
    const same = run(state, { type: "configure", size: SIZE, readOnly: false, labels: ["car", "person"] });
    expect(same).toBe(state);
    state = run(state, { type: "configure", size: SIZE, readOnly: false, labels: ["person", "bus"] });
    expect(state.label).toBe("person");
    state = run(state, { type: "configure", size: SIZE, readOnly: false, labels: ["bus"] });
    expect(state.label).toBe("bus");
  });

  it("fits the image once both sizes are known, zooms about the centre, and fits again on request", () => {
    let state = createEditorState({ initial: [], size: { width: 0, height: 0 }, readOnly: false, labels: [] });
    state = run(state, { type: "viewport", viewport: { width: 200, height: 160 } });
    expect(state.fitted).toBe(false);
    state = run(state, { type: "configure", size: SIZE, readOnly: false, labels: [] });
    expect(state.view).toEqual({ scale: 1.6, x: 20, y: 16 });
    const centre = toImage(state.view, { x: 100, y: 80 });
    state = run(state, { type: "zoom", factor: 2 });
    expect(state.view.scale).toBe(3.2);
    expect(toImage(state.view, { x: 100, y: 80 })).toEqual(centre);
    state = run(state, { type: "viewport", viewport: { width: 400, height: 320 } }); // no second automatic fit
    expect(state.view.scale).toBe(3.2);
    expect(run(state, { type: "fit" }).view).toEqual({ scale: 3.6, x: 20, y: 16 });
  });
});

describe("read-only", () => {
  it("selects but changes nothing: no edits, no drawing tools, no drags", () => {
    const box = boxAt(10, 10, 30, 20);
    let state = start([box], true);
    for (const action of [
      { type: "tag" },
      { type: "remove", key: box.key },
      { type: "attribute", key: box.key, group: "occluded", value: "no" },
      { type: "tool", tool: "box" },
      { type: "undo" },
    ] as EditorAction[]) {
      expect(run(state, action)).toBe(state);
    }
    state = drag(state, { x: 15, y: 15 }, { x: 40, y: 40 }, { shape: box.key });
    expect(state.selected).toBe(box.key);
    expect(shapesOf(state)).toEqual([box]);
    state = run(state, { type: "delete" }, { type: "label", name: "person" }, { type: "nudge", dx: 5, dy: 5 });
    expect(shapesOf(state)).toEqual([box]);
    expect(isDirty(state)).toBe(false);
  });
});

describe("attribute defaults", () => {
  const GROUPS = [
    { name: "occluded", kind: "select" as const, scope: "label" as const, options: ["no", "yes"], required: true, default: "no" },
    { name: "make", kind: "text" as const, scope: "label" as const, label_names: ["car"], required: false, default: "any" },
    { name: "weather", kind: "text" as const, scope: "global" as const, required: false, default: "sun" },
  ];

  function withGroups(): EditorState {
    return createEditorState({ initial: [], size: SIZE, readOnly: false, labels: ["car", "person"], attributeGroups: GROUPS });
  }

  it("a new box, polygon, point and tag start with the defaults of their label's groups", () => {
    let state = drag(run(withGroups(), { type: "tool", tool: "box" }), { x: 10, y: 10 }, { x: 40, y: 30 });
    expect(shapesOf(state)[0]?.attributes).toEqual({ occluded: "no", make: "any" });
    state = run(state, { type: "label", name: "person" }, { type: "tool", tool: "point" });
    state = click(state, { x: 50, y: 50 });
    state = run(state, { type: "tool", tool: "polygon" });
    for (const at of [{ x: 60, y: 10 }, { x: 90, y: 10 }, { x: 90, y: 40 }]) state = click(state, at);
    state = run(state, { type: "finish" }, { type: "tag" });
    expect(shapesOf(state).map((s) => [s.kind, s.attributes])).toEqual([
      ["box", { occluded: "no", make: "any" }],
      ["point", { occluded: "no" }],
      ["polygon", { occluded: "no" }],
      ["tag", { occluded: "no" }],
    ]);
  });

  it("groups configured later apply to the shapes drawn after", () => {
    let state = run(start(), { type: "configure", size: SIZE, readOnly: false, labels: ["car", "person"], attributeGroups: GROUPS });
    state = drag(run(state, { type: "tool", tool: "box" }), { x: 10, y: 10 }, { x: 40, y: 30 });
    expect(shapesOf(state)[0]?.attributes).toEqual({ occluded: "no", make: "any" });
    const kept = run(state, { type: "configure", size: SIZE, readOnly: false, labels: ["car", "person"] });
    expect(kept.attributeGroups).toBe(GROUPS);
  });
});
