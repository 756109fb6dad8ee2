/**
 * The video editor's state (no React): the tracks and frame tags with their one undo history, the other
 * instances, the frame shown, playback within the frames worked on (a segment task's, or all), the first frame
 * of a frame tag being made, and the current frame as an image-editor state (`view`: zoom, pan, tool, label,
 * selection, the drag under way, and the tracks' shapes on this frame).
 */
import type { AttributeGroup, PacketInstance } from "../../api/types";
import type { Size } from "../geometry";
import { type History, createHistory } from "../history";
import { type EditorState, createEditorState } from "../state";
import { type FrameTag, splitFrameTags } from "./frameTags";
import type { Track } from "./interpolation";
import { shapesOnFrame } from "./frameView";
import { type FrameRange, clampToRange, frameRange } from "./segment";
import { joinInstances, splitInstances } from "./tracks";

/** What the editor edits and undoes: an edit of either commits a snapshot of both (one history, not one per
 * part), so undo/redo walks the track and frame tag edits in the order they were made. */
export interface VideoContent {
  tracks: Track[];
  tags: FrameTag[];
}

export interface VideoState {
  history: History<VideoContent>;
  /** as loaded: the editor is dirty while the present's tracks or tags are another array */
  baseline: VideoContent;
  /** the instances that are neither tracks nor frame tags, sent back unchanged */
  others: PacketInstance[];
  /** the first (or last) frame of a frame tag being made, until its other end is marked */
  tagStart: number | null;
  /** the frame tag whose attributes the panel edits (its `tagKey`): the one last made or picked */
  tagSelected: string | null;
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
  /** the schema's: new tracks and frame tags start with the defaults of their label's groups */
  attributeGroups?: AttributeGroup[];
}

/** The state's parts that a version's instances set: the tracks, frame tags and the rest as loaded (the
 * baselines), within `range` (default: the whole video). Shared by the first state and the `load` action. */
export function loadedState(
  instances: PacketInstance[],
  frameCount: number,
  range: FrameRange = frameRange(frameCount),
): Pick<VideoState, "history" | "baseline" | "others" | "tagStart" | "tagSelected" | "frameCount" | "range"> {
  const { tracks, others: rest } = splitInstances(instances);
  const { tags, rest: others } = splitFrameTags(rest);
  const baseline = { tracks, tags };
  return {
    history: createHistory(baseline),
    baseline,
    others,
    tagStart: null,
    tagSelected: null,
    frameCount,
    range,
  };
}

export function createVideoState(setup: VideoSetup): VideoState {
  const { size, readOnly, labels, attributeGroups } = setup;
  const loaded = loadedState(setup.instances, setup.frameCount, setup.range);
  const frame = loaded.range.first;
  const initial = shapesOnFrame(loaded.baseline.tracks, frame);
  const view = createEditorState({ initial, size, readOnly, labels, attributeGroups });
  return { ...loaded, frame, playing: false, view };
}

export function tracksOf(state: VideoState): Track[] {
  return state.history.present.tracks;
}

export function tagsOf(state: VideoState): FrameTag[] {
  return state.history.present.tags;
}

export function isVideoDirty(state: VideoState): boolean {
  const { present } = state.history;
  return present.tracks !== state.baseline.tracks || present.tags !== state.baseline.tags;
}

/** The instances to save: the tracks, the frame tags, then the rest as they came. */
export function instancesOf(state: VideoState): PacketInstance[] {
  const tags = tagsOf(state) as unknown as PacketInstance[];
  return joinInstances({ tracks: tracksOf(state), others: [...tags, ...state.others] });
}

export function clampFrame(state: VideoState, frame: number): number {
  return clampToRange(state.range, frame);
}

/** The view with the tracks' shapes on the state's frame (a fresh shape history: undo is over the tracks and
 * frame tags). */
export function project(state: VideoState): VideoState {
  const shapes = shapesOnFrame(tracksOf(state), state.frame);
  return { ...state, view: { ...state.view, history: createHistory(shapes), baseline: shapes, draft: [], drag: null } };
}
