import { describe, expect, it } from "vitest";

import type { PacketInstance } from "../../api/types";
import { canRedo, canUndo } from "../history";
import type { EditorAction } from "../reducer";
import { shapesOf } from "../state";
import { shapeAt } from "./interpolation";
import { visibleSpans } from "./tracks";
import { type VideoAction, videoReducer } from "./videoReducer";
import { type VideoState, createVideoState, instancesOf, isVideoDirty, tagsOf, tracksOf } from "./videoState";

const SIZE = { width: 320, height: 240 };

function start(instances: PacketInstance[] = [], readOnly = false, range?: { first: number; last: number }): VideoState {
  return createVideoState({ instances, size: SIZE, frameCount: 120, range, readOnly, labels: ["car", "person"] });
}

const GROUPS = [
  { name: "occluded", kind: "radio" as const, scope: "label" as const, options: ["no", "yes"], required: true, default: "no" },
  { name: "cause", kind: "select" as const, scope: "label" as const, label_names: ["person"], options: ["motion", "dark"], required: false, default: "dark" },
];

function run(state: VideoState, ...actions: (EditorAction | VideoAction)[]): VideoState {
  return actions.reduce(videoReducer, state);
}

type P = { x: number; y: number };

function drag(state: VideoState, a: P, b: P, hit = {}): VideoState {
  return run(
    state,
    { type: "pointer-down", at: a, hit, pan: false },
    { type: "pointer-move", at: b },
    { type: "pointer-up", at: b },
  );
}

const TRACK = {
  type: "track",
  name: "car",
  track_id: 4,
  shape: "box",
  attributes: {},
  keyframes: [
    { frame: 0, x_min: 10, y_min: 20, x_max: 50, y_max: 60 },
    { frame: 100, x_min: 110, y_min: 20, x_max: 150, y_max: 60 },
  ],
} as PacketInstance;

describe("drawing tracks on frames", () => {
  it("draws a track on frame 0, adds a keyframe on frame 100 and interpolates between", () => {
    let state = run(start(), { type: "tool", tool: "box" });
    state = drag(state, { x: 10, y: 20 }, { x: 50, y: 60 });
    expect(tracksOf(state)).toHaveLength(1);
    const [track] = tracksOf(state);
    expect(track).toMatchObject({ type: "track", name: "car", shape: "box", track_id: 1 });
    expect(state.view.selected).toBe("track-1");
    state = run(state, { type: "seek", frame: 100 });
    state = drag(state, { x: 110, y: 40 }, { x: 150, y: 80 });
    expect(tracksOf(state)).toHaveLength(1);
    expect(tracksOf(state)[0]?.keyframes.map((k) => k.frame)).toEqual([0, 100]);
    state = run(state, { type: "seek", frame: 50 });
    const [shape] = shapesOf(state.view);
    expect(shape?.points).toEqual([
      { x: 60, y: 30 },
      { x: 100, y: 70 },
    ]);
    expect(shape?.source.interpolated).toBe(true);
    expect(isVideoDirty(state)).toBe(true);
  });

  it("draws a new track when none is selected (Escape deselects)", () => {
    let state = run(start([TRACK]), { type: "select", key: "track-4" }, { type: "cancel" }, { type: "tool", tool: "box" });
    state = drag(state, { x: 200, y: 100 }, { x: 250, y: 150 });
    expect(tracksOf(state).map((t) => t.track_id)).toEqual([4, 5]);
  });

  it("moving an interpolated shape makes a keyframe there, as one undo step", () => {
    let state = run(start([TRACK]), { type: "seek", frame: 50 });
    expect(shapesOf(state.view)[0]?.points[0]).toEqual({ x: 60, y: 20 });
    state = drag(state, { x: 70, y: 30 }, { x: 70, y: 50 }, { shape: "track-4" });
    const track = tracksOf(state)[0];
    expect(track?.keyframes.map((k) => k.frame)).toEqual([0, 50, 100]);
    expect(track?.keyframes[1]).toMatchObject({ x_min: 60, y_min: 40, x_max: 100, y_max: 80, outside: false });
    expect(shapeAt(track as never, 25)).toMatchObject({ y_min: 30, interpolated: true });
    expect(shapesOf(state.view)[0]?.source.interpolated).toBe(false);
    state = run(state, { type: "undo" });
    expect(tracksOf(state)[0]?.keyframes).toHaveLength(2);
    expect(canUndo(state.history)).toBe(false);
  });

  it("a drag in progress changes no track until it ends", () => {
    let state = run(start([TRACK]), { type: "seek", frame: 50 });
    state = run(state, { type: "pointer-down", at: { x: 70, y: 30 }, hit: { shape: "track-4" }, pan: false });
    state = run(state, { type: "pointer-move", at: { x: 80, y: 30 } });
    expect(tracksOf(state)[0]?.keyframes).toHaveLength(2);
    expect(shapesOf(state.view)[0]?.points[0]).toEqual({ x: 70, y: 20 });
  });

  it("marks the object outside and back, and ends its visible span there", () => {
    let state = run(start([TRACK]), { type: "seek", frame: 30 }, { type: "select", key: "track-4" }, { type: "outside" });
    let track = tracksOf(state)[0];
    expect(track?.keyframes.map((k) => [k.frame, Boolean(k.outside)])).toEqual([
      [0, false],
      [30, true],
      [100, false],
    ]);
    expect(visibleSpans(track as never, 120)).toEqual([
      [0, 29],
      [100, 119],
    ]);
    expect(shapesOf(state.view)).toEqual([]);
    state = run(state, { type: "outside" });
    track = tracksOf(state)[0];
    expect(track?.keyframes.map((k) => k.frame)).toEqual([0, 100]);
  });

  it("deleting the selected shape removes its track; saving keeps the other instances", () => {
    const tag = { type: "tag", name: "night" } as PacketInstance;
    const state = run(start([TRACK, tag]), { type: "seek", frame: 10 }, { type: "select", key: "track-4" }, { type: "delete" });
    expect(tracksOf(state)).toEqual([]);
    expect(instancesOf(state)).toEqual([tag]);
  });

  it("steps and seeks within the video, and playback stops on the last frame", () => {
    let state = run(start(), { type: "step", delta: -1 });
    expect(state.frame).toBe(0);
    state = run(state, { type: "seek", frame: 500 });
    expect(state.frame).toBe(119);
    state = run(state, { type: "play" });
    expect(state).toMatchObject({ frame: 0, playing: true });
    state = run(state, { type: "tick" }, { type: "tick" });
    expect(state.frame).toBe(2);
    state = run(state, { type: "seek", frame: 119 }, { type: "tick" });
    expect(state).toMatchObject({ frame: 119, playing: false });
  });

  it("a read-only video editor changes nothing", () => {
    let state = run(start([TRACK], true), { type: "seek", frame: 50 });
    state = drag(state, { x: 70, y: 30 }, { x: 70, y: 50 }, { shape: "track-4" });
    state = run(state, { type: "select", key: "track-4" }, { type: "outside" }, { type: "delete" });
    expect(tracksOf(state)).toBe(state.baseline.tracks);
  });

  it("a segment's editor starts on its first frame and stays on its frames", () => {
    let state = start([TRACK], false, { first: 40, last: 79 });
    expect(state.frame).toBe(40);
    expect(shapesOf(state.view)[0]?.source.interpolated).toBe(true);
    state = run(state, { type: "seek", frame: 0 });
    expect(state.frame).toBe(40);
    state = run(state, { type: "step", delta: -1 });
    expect(state.frame).toBe(40);
    state = run(state, { type: "seek", frame: 100 });
    expect(state.frame).toBe(79);
    state = run(state, { type: "play" });
    expect(state).toMatchObject({ frame: 40, playing: true });
    state = run(state, { type: "seek", frame: 78 }, { type: "tick" }, { type: "tick" });
    expect(state).toMatchObject({ frame: 79, playing: false });
  });

  it("a keyframe drawn in a segment keeps the keyframes outside it, which the server merges by frames", () => {
    let state = run(start([TRACK], false, { first: 40, last: 79 }), { type: "seek", frame: 60 });
    state = drag(state, { x: 90, y: 30 }, { x: 90, y: 50 }, { shape: "track-4" });
    expect(tracksOf(state)[0]?.keyframes.map((k) => k.frame)).toEqual([0, 60, 100]);
  });

  it("loading another segment starts on its first frame; reloading the same one keeps the frame", () => {
    let state = run(start([TRACK], false, { first: 40, last: 79 }), { type: "seek", frame: 50 });
    state = run(state, { type: "load", instances: [TRACK], frameCount: 120, range: { first: 40, last: 79 } });
    expect(state.frame).toBe(50);
    state = run(state, { type: "load", instances: [TRACK], frameCount: 120, range: { first: 70, last: 119 } });
    expect(state.frame).toBe(70);
    state = run(state, { type: "load", instances: [TRACK], frameCount: 120 });
    expect(state.range).toEqual({ first: 0, last: 119 });
    expect(state.frame).toBe(0);
  });

  it("sets and clears a track's attribute, for the whole track, as an undo step; read-only changes nothing", () => {
    let state = run(start([TRACK]), { type: "seek", frame: 50 }, { type: "select", key: "track-4" });
    state = run(state, { type: "track-attribute", group: "colour", value: "red" });
    expect(tracksOf(state)[0]?.attributes).toEqual({ colour: "red" });
    expect(shapesOf(state.view)[0]?.attributes).toEqual({ colour: "red" }); // the frame shows it too
    expect(instancesOf(state)[0]).toMatchObject({ type: "track", attributes: { colour: "red" } });
    expect(isVideoDirty(state)).toBe(true);
    const same = run(state, { type: "track-attribute", group: "colour", value: "red" });
    expect(same.history).toBe(state.history);
    state = run(state, { type: "track-attribute", key: "track-4", group: "colour", value: "" });
    expect(tracksOf(state)[0]?.attributes).toEqual({});
    state = run(state, { type: "undo" });
    expect(tracksOf(state)[0]?.attributes).toEqual({ colour: "red" });
    const locked = run(start([TRACK], true), { type: "track-attribute", key: "track-4", group: "colour", value: "red" });
    expect(tracksOf(locked)).toBe(locked.baseline.tracks);
  });
});

describe("frame tags", () => {
  const TAG = { type: "frame_tag", name: "person", frame_start: 40, frame_end: 60, id: "kept" } as PacketInstance;

  it("T marks the first frame, T again on another the last, with the current label; saved with the rest", () => {
    let state = run(start([TRACK]), { type: "seek", frame: 20 }, { type: "tag" });
    expect(state.tagStart).toBe(20);
    expect(isVideoDirty(state)).toBe(false);
    state = run(state, { type: "step", delta: -10 }, { type: "label", name: "person" }, { type: "tag" });
    expect(state.tagStart).toBeNull();
    expect(tagsOf(state)).toEqual([{ type: "frame_tag", name: "person", frame_start: 10, frame_end: 20 }]);
    expect(isVideoDirty(state)).toBe(true);
    expect(instancesOf(state).map((i) => i.type)).toEqual(["track", "frame_tag"]);
  });

  it("keeps stored tags as they came, deletes one, and Escape drops a half-made one", () => {
    let state = start([TRACK, TAG]);
    expect(tagsOf(state)).toEqual([TAG]);
    expect(instancesOf(state)).toContainEqual(TAG);
    state = run(state, { type: "frame-tag" }, { type: "cancel" });
    expect(state.tagStart).toBeNull();
    expect(tagsOf(state)).toEqual([TAG]);
    state = run(state, { type: "remove-frame-tag", key: "person@40-60" });
    expect(tagsOf(state)).toEqual([]);
    expect(isVideoDirty(state)).toBe(true);
    expect(instancesOf(state).some((i) => i.type === "frame_tag")).toBe(false);
  });

  it("stays inside a segment's frames and cannot be made read-only", () => {
    const segment = { first: 30, last: 50 };
    let state = run(start([], false, segment), { type: "frame-tag" }, { type: "step", delta: 100 }, { type: "frame-tag" });
    expect(tagsOf(state)).toEqual([{ type: "frame_tag", name: "car", frame_start: 30, frame_end: 50 }]);
    state = run(start([TAG], true), { type: "frame-tag" }, { type: "step", delta: 1 }, { type: "frame-tag" });
    expect(tagsOf(state)).toEqual([TAG]);
    expect(tagsOf(run(state, { type: "remove-frame-tag", key: "person@40-60" }))).toEqual([TAG]);
  });

  /** Whether the toolbar's Undo and Redo are enabled, as the editor asks. */
  function undoable(state: VideoState): { undo: boolean; redo: boolean } {
    return { undo: canUndo(state.history), redo: canRedo(state.history) };
  }

  it("adding a tag is undone and redone; undone back to the loaded state is clean", () => {
    let state = run(start([TRACK]), { type: "seek", frame: 10 }, { type: "tag" }, { type: "seek", frame: 20 });
    expect(undoable(state)).toEqual({ undo: false, redo: false }); // a half-made tag is no edit
    state = run(state, { type: "tag" });
    const added = tagsOf(state);
    expect(added).toEqual([{ type: "frame_tag", name: "car", frame_start: 10, frame_end: 20 }]);
    expect(undoable(state)).toEqual({ undo: true, redo: false });
    state = run(state, { type: "undo" });
    expect(tagsOf(state)).toEqual([]);
    expect(undoable(state)).toEqual({ undo: false, redo: true });
    expect(isVideoDirty(state)).toBe(false);
    expect(instancesOf(state)).toEqual([TRACK]);
    state = run(state, { type: "redo" });
    expect(tagsOf(state)).toBe(added);
    expect(undoable(state)).toEqual({ undo: true, redo: false });
    expect(isVideoDirty(state)).toBe(true);
    expect(instancesOf(state).map((i) => i.type)).toEqual(["track", "frame_tag"]);
  });

  it("removing a tag is undone, the stored tag back as it came", () => {
    let state = run(start([TRACK, TAG]), { type: "remove-frame-tag", key: "person@40-60" });
    expect(tagsOf(state)).toEqual([]);
    expect(undoable(state)).toEqual({ undo: true, redo: false });
    state = run(state, { type: "undo" });
    expect(tagsOf(state)).toEqual([TAG]);
    expect(isVideoDirty(state)).toBe(false);
    expect(undoable(state)).toEqual({ undo: false, redo: true });
    state = run(state, { type: "redo" });
    expect(tagsOf(state)).toEqual([]);
    expect(isVideoDirty(state)).toBe(true);
  });

  it("track edits and tag edits are undone in reverse order and redone in order, in one history", () => {
    const loaded = start([TRACK]);
    let state = run(loaded, { type: "seek", frame: 30 }, { type: "select", key: "track-4" }, { type: "outside" });
    const outside = tracksOf(state);
    state = run(state, { type: "tag" }, { type: "seek", frame: 40 }, { type: "tag" });
    expect(tracksOf(state)).toBe(outside); // a tag keeps the tracks
    state = run(state, { type: "track-attribute", key: "track-4", group: "colour", value: "red" });
    expect(tagsOf(state)).toHaveLength(1); // a track edit keeps the tags
    const last = state;

    state = run(state, { type: "undo" });
    expect(tracksOf(state)).toBe(outside);
    expect(tagsOf(state)).toHaveLength(1);
    state = run(state, { type: "undo" });
    expect(tracksOf(state)).toBe(outside);
    expect(tagsOf(state)).toEqual([]);
    expect(isVideoDirty(state)).toBe(true); // the track is still outside from frame 30
    state = run(state, { type: "undo" });
    expect(tracksOf(state)).toBe(loaded.baseline.tracks);
    expect(isVideoDirty(state)).toBe(false);
    expect(undoable(state)).toEqual({ undo: false, redo: true });
    expect(shapesOf(state.view)).toHaveLength(1); // the frame shows the track in view again

    state = run(state, { type: "redo" }, { type: "redo" });
    expect(tracksOf(state)).toBe(outside);
    expect(tagsOf(state)).toEqual([{ type: "frame_tag", name: "car", frame_start: 30, frame_end: 40 }]);
    state = run(state, { type: "redo" });
    expect(state.history.present).toBe(last.history.present);
    expect(undoable(state)).toEqual({ undo: true, redo: false });

    // a new edit after an undo drops what could be redone
    state = run(state, { type: "undo" }, { type: "remove-frame-tag", key: "car@30-40" });
    expect(undoable(state)).toEqual({ undo: true, redo: false });
    expect(tracksOf(state)).toBe(outside);
    expect(tagsOf(state)).toEqual([]);
  });

  it("an unchanged tag list (the same tag again, an unknown key) is no undo step; read-only undoes nothing", () => {
    let state = run(start([TAG]), { type: "remove-frame-tag", key: "nothing@0-0" });
    expect(undoable(state)).toEqual({ undo: false, redo: false });
    state = run(state, { type: "label", name: "person" }, { type: "seek", frame: 40 }, { type: "tag" });
    state = run(state, { type: "seek", frame: 60 });
    expect(run(state, { type: "tag" }).history).toBe(state.history);
    const locked = run(start([TAG], true), { type: "remove-frame-tag", key: "person@40-60" }, { type: "undo" });
    expect(tagsOf(locked)).toBe(locked.baseline.tags);
  });
});

describe("per-frame attributes", () => {
  it("set on frame 50 make a keyframe there holding them until the next keyframe; undoable; empty removes", () => {
    let state = run(start([TRACK]), { type: "select", key: "track-4" }, { type: "seek", frame: 50 });
    state = run(state, { type: "frame-attribute", group: "pose", value: "sitting" });
    const track = tracksOf(state)[0]!;
    expect(track.keyframes.map((k) => k.frame)).toEqual([0, 50, 100]);
    expect(track.keyframes[1]).toMatchObject({ frame: 50, x_min: 60, x_max: 100, attributes: { pose: "sitting" } });
    expect(shapeAt(track, 70)?.attributes).toEqual({ pose: "sitting" });
    expect(shapeAt(track, 40)?.attributes).toEqual({});
    expect(shapeAt(track, 100)?.attributes).toEqual({});
    expect(run(state, { type: "frame-attribute", group: "pose", value: "sitting" })).toBe(state);
    state = run(state, { type: "frame-attribute", group: "pose", value: "" });
    expect(tracksOf(state)[0]?.keyframes[1]?.attributes).toBeUndefined();
    state = run(state, { type: "undo" }, { type: "undo" });
    expect(tracksOf(state)[0]?.keyframes.map((k) => k.frame)).toEqual([0, 100]);
  });

  it("are not set where the object is not in view", () => {
    const leaving = { frame: 110, x_min: 110, y_min: 20, x_max: 150, y_max: 60, outside: true };
    const gone = { ...TRACK, keyframes: [...(TRACK.keyframes as object[]), leaving] } as PacketInstance;
    const state = run(
      start([gone]),
      { type: "seek", frame: 115 },
      { type: "frame-attribute", key: "track-4", group: "pose", value: "x" },
    );
    expect(isVideoDirty(state)).toBe(false);
  });
});

describe("frame tag attributes", () => {
  const SHAKY = { type: "frame_tag", name: "person", frame_start: 40, frame_end: 60, id: "kept" } as PacketInstance;

  it("the tag just made is picked; its attributes are set, changed and removed, each an undo step", () => {
    let state = run(start([TRACK]), { type: "seek", frame: 10 }, { type: "tag" }, { type: "seek", frame: 20 }, { type: "tag" });
    expect(state.tagSelected).toBe("car@10-20");
    state = run(state, { type: "frame-tag-attribute", group: "cause", value: "motion" });
    state = run(state, { type: "frame-tag-attribute", group: "sides", value: ["left", "right"] });
    const both = { cause: "motion", sides: ["left", "right"] };
    expect(tagsOf(state)).toEqual([{ type: "frame_tag", name: "car", frame_start: 10, frame_end: 20, attributes: both }]);
    expect(instancesOf(state).find((i) => i.type === "frame_tag")?.attributes).toEqual(both);
    expect(run(state, { type: "frame-tag-attribute", group: "cause", value: "motion" })).toBe(state); // no step
    state = run(
      state,
      { type: "frame-tag-attribute", group: "cause", value: "" },
      { type: "frame-tag-attribute", group: "sides", value: [] },
    );
    expect(tagsOf(state)[0]).not.toHaveProperty("attributes");
    state = run(state, { type: "undo" }, { type: "undo" });
    expect(tagsOf(state)[0]?.attributes).toEqual(both);
    state = run(state, { type: "undo" }, { type: "undo" });
    expect(tagsOf(state)[0]).not.toHaveProperty("attributes");
    state = run(state, { type: "undo" });
    expect(tagsOf(state)).toEqual([]);
    expect(isVideoDirty(state)).toBe(false);
    state = run(state, { type: "redo" }, { type: "redo" });
    expect(tagsOf(state)[0]?.attributes).toEqual({ cause: "motion" });
  });

  it("a stored tag picked keeps its id and other attributes; its edits interleave with track edits in one history", () => {
    const stored = { ...SHAKY, attributes: { cause: "focus", severity: 2 } } as PacketInstance;
    let state = run(start([TRACK, stored]), { type: "select-frame-tag", key: "person@40-60" });
    expect(isVideoDirty(state)).toBe(false); // picking is no edit
    state = run(state, { type: "frame-tag-attribute", group: "severity", value: 4 });
    state = run(state, { type: "track-attribute", key: "track-4", group: "colour", value: "red" });
    state = run(state, { type: "frame-tag-attribute", key: "person@40-60", group: "cause", value: "motion" });
    expect(tagsOf(state)).toEqual([{ ...stored, attributes: { cause: "motion", severity: 4 } }]);
    state = run(state, { type: "undo" });
    expect(tagsOf(state)[0]?.attributes).toEqual({ cause: "focus", severity: 4 });
    expect(tracksOf(state)[0]?.attributes).toEqual({ colour: "red" });
    state = run(state, { type: "undo" });
    expect(tracksOf(state)[0]?.attributes).toEqual({});
    expect(tagsOf(state)[0]?.attributes).toEqual({ cause: "focus", severity: 4 });
    state = run(state, { type: "undo" });
    expect(tagsOf(state)).toEqual([stored]);
    expect(isVideoDirty(state)).toBe(false);
  });

  it("nothing is set without a picked tag, on a deleted one, or read-only; deleting the picked tag unpicks it", () => {
    const none = start([SHAKY]);
    expect(run(none, { type: "frame-tag-attribute", group: "cause", value: "motion" })).toBe(none);
    let state = run(none, { type: "select-frame-tag", key: "person@40-60" }, { type: "remove-frame-tag", key: "person@40-60" });
    expect(state.tagSelected).toBeNull();
    const gone = run(state, { type: "frame-tag-attribute", key: "person@40-60", group: "cause", value: "x" });
    expect(gone.history).toBe(state.history);
    state = run(start([SHAKY], true), { type: "select-frame-tag", key: "person@40-60" });
    expect(run(state, { type: "frame-tag-attribute", group: "cause", value: "motion" }).history).toBe(state.history);
    const picked = run(start([SHAKY]), { type: "select-frame-tag", key: "person@40-60" });
    state = run(picked, { type: "load", instances: [SHAKY], frameCount: 120 });
    expect(state.tagSelected).toBeNull();
  });
});

describe("attribute defaults", () => {
  function withGroups(instances: PacketInstance[] = []): VideoState {
    return createVideoState({ instances, size: SIZE, frameCount: 120, readOnly: false, labels: ["car", "person"], attributeGroups: GROUPS });
  }

  it("a new track starts with its label's defaults, for the whole track", () => {
    let state = run(withGroups(), { type: "tool", tool: "box" });
    state = drag(state, { x: 200, y: 100 }, { x: 250, y: 150 });
    const [track] = tracksOf(state);
    expect(track?.attributes).toEqual({ occluded: "no" });
    expect(track?.keyframes[0]).not.toHaveProperty("attributes");
    state = run(state, { type: "cancel" }, { type: "label", name: "person" });
    state = drag(state, { x: 10, y: 10 }, { x: 50, y: 50 });
    expect(tracksOf(state).map((t) => t.attributes)).toEqual([{ occluded: "no" }, { occluded: "no", cause: "dark" }]);
  });

  it("a new frame tag starts with its label's defaults; a stored one is kept as it came", () => {
    const stored = { type: "frame_tag", name: "person", frame_start: 40, frame_end: 60 } as PacketInstance;
    let state = run(withGroups([stored]), { type: "label", name: "person" }, { type: "seek", frame: 10 }, { type: "tag" });
    state = run(state, { type: "seek", frame: 20 }, { type: "tag" });
    expect(tagsOf(state)).toEqual([
      stored,
      { type: "frame_tag", name: "person", frame_start: 10, frame_end: 20, attributes: { occluded: "no", cause: "dark" } },
    ]);
    state = run(state, { type: "frame-tag-attribute", group: "cause", value: "motion" });
    expect(tagsOf(state)[1]?.attributes).toEqual({ occluded: "no", cause: "motion" });
    expect(GROUPS[1]?.default).toBe("dark");
  });
});
