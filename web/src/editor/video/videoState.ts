/**
 * The video editor's state (no React): the tracks with their undo history, the other instances, the frame shown,
 * playback, and the current frame as an image-editor state (`view`: zoom, pan, tool, label, selection, the drag
 * under way, and the tracks' shapes on this frame).
 */
import type { PacketInstance } from "../../api/types";
import type { Size } from "../geometry";
import { type History, createHistory } from "../history";
import { type EditorState, createEditorState } from "../state";
import type { Track } from "./interpolation";
import { shapesOnFrame } from "./frameView";
import { joinInstances, splitInstances } from "./tracks";

export interface VideoState {
  tracks: History<Track[]>;
  /** the tracks as loaded: the editor is dirty while the present is another array */
  baseline: Track[];
  others: PacketInstance[];
  frame: number;
  frameCount: number;
  playing: boolean;
  view: EditorState;
}

export interface VideoSetup {
  instances: PacketInstance[];
  size: Size;
  frameCount: number;
  readOnly: boolean;
  labels: string[];
}

export function createVideoState({ instances, size, frameCount, readOnly, labels }: VideoSetup): VideoState {
  const { tracks, others } = splitInstances(instances);
  const view = createEditorState({ initial: shapesOnFrame(tracks, 0), size, readOnly, labels });
  return { tracks: createHistory(tracks), baseline: tracks, others, frame: 0, frameCount, playing: false, view };
}

export function tracksOf(state: VideoState): Track[] {
  return state.tracks.present;
}

export function isVideoDirty(state: VideoState): boolean {
  return state.tracks.present !== state.baseline;
}

/** The instances to save: the tracks, then the rest as they came. */
export function instancesOf(state: VideoState): PacketInstance[] {
  return joinInstances({ tracks: tracksOf(state), others: state.others });
}

export function clampFrame(state: VideoState, frame: number): number {
  return Math.max(0, Math.min(state.frameCount - 1, Math.round(frame)));
}

/** The view with the tracks' shapes on the state's frame (a fresh shape history: undo is over the tracks). */
export function project(state: VideoState): VideoState {
  const shapes = shapesOnFrame(tracksOf(state), state.frame);
  return { ...state, view: { ...state.view, history: createHistory(shapes), baseline: shapes, draft: [], drag: null } };
}
