/**
 * The video editor: frame n of a video (from the frames endpoint, a few frames prefetched) under the image
 * editor's canvas, tools and gestures, whose shapes on a frame are the tracks' (videoReducer.ts folds edits back
 * into keyframes); playback, a timeline of tracks, keyframes and frame tags, the track list and the frame tags.
 * A segment task's editor stays on the segment's frames.
 */
import { type ReactNode, useCallback, useEffect, useMemo, useReducer } from "react";

import type { AttributeGroup, LabelSpec, PacketInstance } from "../../api/types";
import { Canvas, type ShapeMark } from "../Canvas";
import { canRedo, canUndo } from "../history";
import type { Shape } from "../instances";
import type { Command, Tool } from "../shortcuts";
import { ShortcutsHelp } from "../ShortcutsHelp";
import { Toolbar } from "../Toolbar";
import { useEditorShell } from "../useEditorShell";
import { FrameTagPanel } from "./FrameTagPanel";
import { frameRange } from "./segment";
import { Timeline } from "./Timeline";
import { findTrack } from "./tracks";
import { TrackPanel } from "./TrackPanel";
import { Transport } from "./Transport";
import { useFrames } from "./useFrames";
import { videoReducer } from "./videoReducer";
import { createVideoState, instancesOf, isVideoDirty, tagsOf, tracksOf } from "./videoState";

const VIDEO_TOOLS: Tool[] = ["select", "box", "polygon", "point"];

function markOf(shape: Shape): ShapeMark {
  const id = String(shape.source.track_id ?? "");
  return shape.source.interpolated
    ? { dashed: true, note: `#${id} interpolated` }
    : { dashed: false, note: `#${id} keyframe` };
}

export interface VideoEditorProps {
  project: string;
  fileId: string;
  frameCount: number;
  fps: number;
  size: { width: number; height: number };
  labels: LabelSpec[];
  /** the schema's attribute groups: a track's (fixed or per frame) and a frame tag's are edited in the side panel */
  attributeGroups?: AttributeGroup[];
  /** the instances to start from; the editor starts over whenever `resetKey` changes */
  initial: PacketInstance[];
  resetKey: string;
  readOnly?: boolean;
  primary?: { label: string; busy: boolean; run: (instances: PacketInstance[]) => void };
  extraActions?: ReactNode;
  onChange?: (dirty: boolean) => void;
  /** a segment task's frames (inclusive): the editor shows and edits only these */
  segment?: { start: number; end: number } | null;
}

const NO_GROUPS: AttributeGroup[] = [];

export function VideoEditor(props: VideoEditorProps) {
  const { project, fileId, frameCount, fps, size, labels, initial, resetKey, readOnly = false, primary, segment } = props;
  const labelNames = useMemo(() => labels.map((l) => l.name), [labels]);
  const attributeGroups = props.attributeGroups ?? NO_GROUPS;
  const range = useMemo(() => frameRange(frameCount, segment), [frameCount, segment?.start, segment?.end]);
  const [state, dispatch] = useReducer(
    videoReducer,
    { instances: initial, size, frameCount, range, readOnly, labels: labelNames, attributeGroups },
    createVideoState,
  );
  const { frame, playing, view } = state;
  const dirty = isVideoDirty(state);
  const frames = useFrames(project, fileId, frameCount, frame, playing);

  useEffect(() => {
    dispatch({ type: "load", instances: initial, frameCount, range });
  }, [resetKey]); // `initial` (and the range) belong to that key
  useEffect(() => props.onChange?.(dirty), [dirty, props.onChange]);

  // Playback: the next frame once its time has come and it has arrived (a slow network slows playback down).
  const nextReady = frames.ready(frame + 1);
  useEffect(() => {
    if (!playing) return;
    const timer = window.setTimeout(() => {
      if (nextReady || frame >= state.range.last) dispatch({ type: "tick" });
    }, 1000 / Math.min(60, Math.max(1, fps)));
    return () => window.clearTimeout(timer);
  }, [playing, frame, nextReady, state.range.last, fps, frames.arrivals]);

  const other = useCallback(
    (command: Command) => {
      if (command.type === "frame") dispatch({ type: "step", delta: command.delta });
      else if (command.type === "frame-edge") dispatch({ type: "seek", frame: command.last ? frameCount - 1 : 0 });
      else if (command.type === "play") dispatch({ type: "play" });
      else if (command.type === "outside") dispatch({ type: "outside" });
      else return false;
      return true;
    },
    [frameCount],
  );
  const save = primary && !primary.busy ? () => primary.run(instancesOf(state)) : null;
  const { help, setHelp, spaceHeld, stage, svg, handlers, colourOf } = useEditorShell({
    dispatch,
    labels,
    labelNames,
    attributeGroups,
    size,
    readOnly,
    save,
    other,
  });
  const tracks = tracksOf(state);
  const selectedTrack = findTrack(tracks, view.selected);
  const hint = frames.error
    ? `Frame ${frame} could not be loaded (${frames.error instanceof Error ? frames.error.message : "error"}); step or seek to try again`
    : !readOnly && view.tool !== "select" && selectedTrack
      ? `Drawing sets track #${selectedTrack.track_id}'s keyframe on frame ${frame}; Escape, then draw, for a new track`
      : undefined;

  return (
    <div className="editor video-editor">
      <Toolbar
        state={view}
        dispatch={dispatch}
        labels={labels}
        colourOf={colourOf}
        onHelp={() => setHelp(true)}
        extraActions={props.extraActions}
        primary={primary && { label: primary.label, busy: primary.busy, run: () => save?.() }}
        tools={VIDEO_TOOLS}
        canTag={false}
        undoable={{ undo: canUndo(state.history), redo: canRedo(state.history) }}
      />
      <div className="editor-body">
        <div className="video-main" data-frame={frame} data-shown-frame={frames.shown ?? ""}>
          <Canvas
            state={view}
            imageUrl={frames.url}
            layers={[]}
            visibleLayers={new Set()}
            colourOf={colourOf}
            spaceHeld={spaceHeld}
            stageRef={stage}
            svgRef={svg}
            handlers={handlers}
            markOf={markOf}
            hint={hint}
          />
          <Transport
            frame={frame}
            frameCount={frameCount}
            range={state.range}
            fps={fps}
            playing={playing}
            dispatch={dispatch}
          />
          <Timeline
            tracks={tracks}
            tags={tagsOf(state)}
            tagStart={state.tagStart}
            frame={frame}
            frameCount={frameCount}
            range={state.range}
            selected={view.selected}
            colourOf={colourOf}
            dispatch={dispatch}
          />
        </div>
        <TrackPanel
          tracks={tracks}
          frame={frame}
          selected={view.selected}
          readOnly={readOnly}
          attributeGroups={attributeGroups}
          colourOf={colourOf}
          dispatch={dispatch}
        >
          <FrameTagPanel
            tags={tagsOf(state)}
            frame={frame}
            tagStart={state.tagStart}
            selected={state.tagSelected}
            label={view.label}
            readOnly={readOnly}
            attributeGroups={attributeGroups}
            colourOf={colourOf}
            dispatch={dispatch}
          />
        </TrackPanel>
      </div>
      <ShortcutsHelp open={help} onClose={() => setHelp(false)} video />
    </div>
  );
}
