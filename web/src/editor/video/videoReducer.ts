/**
 * The video editor's reducer: frame navigation and playback, track edits (outside, occluded, keyframe and track
 * removal), frame tags (T marks a tag's first frame, T again its last, with the current label; Escape drops a
 * half-made one; the tag made or picked is the one whose attributes are edited), undo/redo over both in one
 * history, and every image-editor action applied to the current
 * frame, whose result is folded back into the tracks once a gesture ends. Pure.
 */
import type { PacketInstance } from "../../api/types";
import { defaultAttributes } from "../attributeDefaults";
import { commit, redo, undo } from "../history";
import { type EditorAction, editorReducer } from "../reducer";
import { shapesOf } from "../state";
import { type FrameTag, addFrameTag, removeFrameTag, setTagAttribute, tagKey } from "./frameTags";
import { foldFrame } from "./frameView";
import type { Track } from "./interpolation";
import { type FrameRange, sameRange } from "./segment";
import {
  findTrack,
  removeKeyframe,
  replaceTrack,
  setFrameAttribute,
  setTrackAttribute,
  toggleOccluded,
  toggleOutside,
} from "./tracks";
import { type VideoState, clampFrame, loadedState, project, tagsOf, tracksOf } from "./videoState";

export type VideoAction =
  /** another version, or another task: a new range starts on its first frame */
  | { type: "load"; instances: PacketInstance[]; frameCount: number; range?: FrameRange }
  | { type: "seek"; frame: number }
  | { type: "step"; delta: number }
  | { type: "play"; playing?: boolean }
  /** the next frame while playing; playback stops on the range's last */
  | { type: "tick" }
  | { type: "outside"; key?: string }
  | { type: "occluded"; key?: string }
  | { type: "remove-keyframe"; key?: string }
  | { type: "remove-track"; key: string }
  /** a track's attribute (fixed for the whole track; empty removes it) */
  | { type: "track-attribute"; key?: string; group: string; value: unknown }
  /** a per-frame attribute from the current frame on (a keyframe there holds it; empty removes it there) */
  | { type: "frame-attribute"; key?: string; group: string; value: unknown }
  /** a frame tag: mark its first frame here, or (one marked) end it here with the current label */
  | { type: "frame-tag" }
  | { type: "remove-frame-tag"; key: string }
  /** the frame tag whose attributes the panel edits (null: none) */
  | { type: "select-frame-tag"; key: string | null }
  /** an attribute of a frame tag (default: the selected one); empty removes it */
  | { type: "frame-tag-attribute"; key?: string; group: string; value: unknown };

/** Image-editor actions a video ignores: there are no line tracks, and file tags are not edited here (the
 * image editor's `tag`, T, makes frame tags). */
const IGNORED = new Set<EditorAction["type"]>(["attribute", "reset"]);

function frameTag(state: VideoState): VideoState {
  if (state.view.readOnly) return state;
  if (state.tagStart === null) return { ...state, tagStart: state.frame };
  const label = state.view.label;
  if (!label) return { ...state, tagStart: null };
  const [first, last] = [Math.min(state.tagStart, state.frame), Math.max(state.tagStart, state.frame)];
  const made = tagKey({ type: "frame_tag", name: label, frame_start: first, frame_end: last });
  const next = addFrameTag(tagsOf(state), label, first, last, defaultAttributes(state.view.attributeGroups, label));
  return editTags({ ...state, tagStart: null, tagSelected: made }, next);
}

/** The tracks changed as one undo step (none when unchanged), the frame tags kept. */
function editTracks(state: VideoState, next: Track[]): VideoState {
  if (next === tracksOf(state)) return state;
  return project({ ...state, history: commit(state.history, { ...state.history.present, tracks: next }) });
}

/** The frame tags changed as one undo step (none when unchanged), the tracks kept. */
function editTags(state: VideoState, next: FrameTag[]): VideoState {
  if (next === tagsOf(state)) return state;
  return { ...state, history: commit(state.history, { ...state.history.present, tags: next }) };
}

function editTrack(state: VideoState, key: string | undefined, change: (track: Track) => Track): VideoState {
  if (state.view.readOnly) return state;
  const track = findTrack(tracksOf(state), key ?? state.view.selected);
  if (!track) return state;
  const changed = change(track);
  return changed === track ? state : editTracks(state, replaceTrack(tracksOf(state), changed));
}

function onFrame(state: VideoState, frame: number): VideoState {
  const target = clampFrame(state, frame);
  return target === state.frame ? state : project({ ...state, frame: target });
}

function applyEditorAction(state: VideoState, action: EditorAction): VideoState {
  if (IGNORED.has(action.type)) return state;
  if (action.type === "tag") return frameTag(state);
  if (action.type === "cancel" && state.tagStart !== null) return { ...state, tagStart: null };
  if (action.type === "tool" && action.tool === "line") return state;
  if (action.type === "undo" || action.type === "redo") {
    if (state.view.readOnly) return state;
    const history = action.type === "undo" ? undo(state.history) : redo(state.history);
    return project({ ...state, history });
  }
  const view = editorReducer(state.view, action);
  const before = state.view.baseline; // the projection: the present is already changed while a drag is under way
  const after = shapesOf(view);
  if (view.drag !== null || after === before || view.readOnly) return { ...state, view };
  const folded = foldFrame(tracksOf(state), state.frame, before, after, state.view.selected);
  const next = editTracks({ ...state, view: { ...view, selected: folded.selected } }, folded.tracks);
  return next.history === state.history ? project(next) : next;
}

export function videoReducer(state: VideoState, action: EditorAction | VideoAction): VideoState {
  switch (action.type) {
    case "load": {
      const loaded = { ...state, ...loadedState(action.instances, action.frameCount, action.range) };
      const frame = sameRange(loaded.range, state.range) ? state.frame : loaded.range.first;
      return project({ ...loaded, frame: clampFrame(loaded, frame), playing: false, view: { ...state.view, selected: null } });
    }
    case "seek":
      return onFrame(state, action.frame);
    case "step":
      return onFrame({ ...state, playing: false }, state.frame + action.delta);
    case "play": {
      const playing = action.playing ?? !state.playing;
      // playing from the last frame starts over
      return playing && state.frame >= state.range.last
        ? onFrame({ ...state, playing }, state.range.first)
        : { ...state, playing };
    }
    case "tick":
      if (!state.playing) return state;
      if (state.frame >= state.range.last) return { ...state, playing: false };
      return onFrame(state, state.frame + 1);
    case "outside":
      return editTrack(state, action.key, (t) => toggleOutside(t, state.frame));
    case "occluded":
      return editTrack(state, action.key, (t) => toggleOccluded(t, state.frame));
    case "remove-keyframe":
      return editTrack(state, action.key, (t) => removeKeyframe(t, state.frame));
    case "track-attribute":
      return editTrack(state, action.key, (t) => setTrackAttribute(t, action.group, action.value));
    case "frame-attribute":
      return editTrack(state, action.key, (t) => setFrameAttribute(t, state.frame, action.group, action.value));
    case "frame-tag":
      return frameTag(state);
    case "remove-frame-tag": {
      if (state.view.readOnly) return state;
      const kept = editTags(state, removeFrameTag(tagsOf(state), action.key));
      return kept.tagSelected === action.key ? { ...kept, tagSelected: null } : kept;
    }
    case "select-frame-tag":
      return action.key === state.tagSelected ? state : { ...state, tagSelected: action.key };
    case "frame-tag-attribute": {
      const key = action.key ?? state.tagSelected;
      if (state.view.readOnly || key === null) return state;
      return editTags(state, setTagAttribute(tagsOf(state), key, action.group, action.value));
    }
    case "remove-track": {
      if (state.view.readOnly) return state;
      const next = editTracks(state, tracksOf(state).filter((t) => findTrack([t], action.key) === undefined));
      return next.view.selected === action.key ? { ...next, view: { ...next.view, selected: null } } : next;
    }
    default:
      return applyEditorAction(state, action);
  }
}
