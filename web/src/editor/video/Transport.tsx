/** Playback controls: play/pause, step, the frame number (type one to seek), the time, and a segment's frames. */
import { type Dispatch, useEffect, useState } from "react";

import { type FrameRange, isWholeVideo } from "./segment";
import { formatDuration } from "./time";
import type { VideoAction } from "./videoReducer";

export function Transport({
  frame,
  frameCount,
  range,
  fps,
  playing,
  dispatch,
}: {
  frame: number;
  frameCount: number;
  range: FrameRange;
  fps: number;
  playing: boolean;
  dispatch: Dispatch<VideoAction>;
}) {
  const [typed, setTyped] = useState(String(frame));
  useEffect(() => setTyped(String(frame)), [frame]);
  const seek = () => {
    const n = Number(typed);
    if (typed.trim() !== "" && Number.isFinite(n)) dispatch({ type: "seek", frame: n });
    else setTyped(String(frame));
  };
  const seconds = fps > 0 ? frame / fps : 0;
  const total = fps > 0 ? frameCount / fps : 0;
  return (
    <div className="transport" role="group" aria-label="Playback">
      <button type="button" onClick={() => dispatch({ type: "step", delta: -1 })} title="Previous frame (,)" aria-label="Previous frame">
        ◀
      </button>
      <button type="button" onClick={() => dispatch({ type: "play" })} title="Play or pause (K)" aria-pressed={playing}>
        {playing ? "Pause" : "Play"}
      </button>
      <button type="button" onClick={() => dispatch({ type: "step", delta: 1 })} title="Next frame (.)" aria-label="Next frame">
        ▶
      </button>
      <label>
        Frame{" "}
        <input
          type="number"
          aria-label="Frame"
          min={range.first}
          max={range.last}
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          onBlur={seek}
          onKeyDown={(e) => {
            // seek, and hand the keys back to the editor's shortcuts
            if (e.key === "Enter") e.currentTarget.blur();
          }}
        />
      </label>
      <span className="hint">
        of {frameCount} · {formatDuration(seconds)} / {formatDuration(total)}
      </span>
      {isWholeVideo(range, frameCount) ? null : (
        <span className="segment-frames" role="note" aria-label="Segment">
          Segment: frames {range.first}–{range.last}
        </span>
      )}
    </div>
  );
}
