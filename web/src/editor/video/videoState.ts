/**
 * The video editor's state (no React): the tracks with their undo history, the other instances, the frame shown,
 * playback within the frames worked on (a segment task's, or all), the frame tags (with the first frame of one
 * being made), and the current frame as an image-editor state (`view`: zoom, pan, tool, label, selection, the drag
 * under way, and the tracks' shapes on this frame).
 */
import type { PacketInstance } from "../../api/types";
import type { Size } from "../geometry";
import { type History, createHistory } from "../history";
import { type EditorState, createEditorState } from "../state";
import { type FrameTag, splitFrameTags } from "./frameTags";
import type { Track } from "./interpolation";
import { shapesOnFrame } from "./frameView";
import { type FrameRange, clampToRange, frameRange } from "./segment";
import { joinInstances, splitInstances } from "./tracks";

export interface VideoState {
  tracks: History<Track[]>;
  /** the tracks as loaded: the editor is dirty while the present is another array */
  baseline: Track[];
  /** the instances that are neither tracks nor frame tags, sent back unchanged */
  others: PacketInstance[];
  /** the frame tags (no undo: a tag is deleted with its button), and as loaded */
  tags: FrameTag[];
  baselineTags: FrameTag[];
  /** the first (or last) frame of a frame tag being made, until its other end is marked */
  tagStart: number | null;
  frame: number;
  frameCount: number;
  /** the frames that can be shown and edited: a segment task's, or the whole video */
  range: FrameRange;
  playing: boolean;
  view: EditorState;
}

export interface VideoSetup {
  instances: PacketInstance[];
  size: Size;
  frameCount: number;
  /** default: the whole video */
  range?: FrameRange;
  readOnly: boolean;
  labels: string[];
}

/** The state's parts that a version's instances set: the tracks, frame tags and the rest as loaded (the
 * baselines), within `range` (default: the whole video). Shared by the first state and the `load` action. */
export function loadedState(
  instances: PacketInstance[],
  frameCount: number,
  range: FrameRange = frameRange(frameCount),
): Pick<VideoState, "tracks" | "baseline" | "others" | "tags" | "baselineTags" | "tagStart" | "frameCount" | "range"> {
  const { tracks, others: rest } = splitInstances(instances);
  const { tags, rest: others } = splitFrameTags(rest);
  return {
    tracks: createHistory(tracks),
    baseline: tracks,
    others,
    tags,
    baselineTags: tags,
    tagStart: null,
    frameCount,
    range,
  };
}

export function createVideoState(setup: VideoSetup): VideoState {
  const { size, readOnly, labels } = setup;
  const loaded = loadedState(setup.instances, setup.frameCount, setup.range);
  const frame = loaded.range.first;
  const view = createEditorState({ initial: shapesOnFrame(loaded.baseline, frame), size, readOnly, labels });
  return { ...loaded, frame, playing: false, view };
}

export function tracksOf(state: VideoState): Track[] {
  return state.tracks.present;
}

export function isVideoDirty(state: VideoState): boolean {
  return state.tracks.present !== state.baseline || state.tags !== state.baselineTags;
}

/** The instances to save: the tracks, the frame tags, then the rest as they came. */
export function instancesOf(state: VideoState): PacketInstance[] {
  return joinInstances({ tracks: tracksOf(state), others: [...(state.tags as unknown as PacketInstance[]), ...state.others] });
}

export function clampFrame(state: VideoState, frame: number): number {
  return clampToRange(state.range, frame);
}

/** The view with the tracks' shapes on the state's frame (a fresh shape history: undo is over the tracks). */
export function project(state: VideoState): VideoState {
  const shapes = shapesOnFrame(tracksOf(state), state.frame);
  return { ...state, view: { ...state.view, history: createHistory(shapes), baseline: shapes, draft: [], drag: null } };
}
