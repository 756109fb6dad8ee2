/**
 * Each track's visible frames and keyframes along the video, and a row per frame tag label with its tags' frames,
 * both cut where their (per-frame) attribute values change (the values written on each segment, a mark at each
 * change; the tag being made hatched), with the current frame; a click seeks there (on a tag, also picks it). Outside
 * a segment task's frames the bars are greyed (a click there goes to the segment's nearest frame).
 */
import { type Dispatch, type MouseEvent, useMemo } from "react";

import type { ColourOf } from "../palette";
import { type FrameTag, type TagSegment, describeSegment, pickedTag, tagRows } from "./frameTags";
import type { Track } from "./interpolation";
import { type FrameRange, isWholeVideo } from "./segment";
import { trackKey, trackSegments } from "./tracks";
import type { VideoAction } from "./videoReducer";

function percent(frame: number, frameCount: number): string {
  return `${(frame / Math.max(1, frameCount)) * 100}%`;
}

/** One segment of a track's or a tag's bar: its values written on it, named in its tooltip and accessible name. */
function SegmentSpan({
  subject,
  kind,
  segment,
  frameCount,
  background,
  onClick,
  ...data
}: {
  subject: string;
  kind: "track" | "tag";
  segment: TagSegment;
  frameCount: number;
  background: string;
  onClick?: (event: MouseEvent<HTMLSpanElement>) => void;
  [dataAttribute: `data-${string}`]: string;
}) {
  const words = describeSegment(subject, segment);
  return (
    <span
      role="img"
      aria-label={words}
      title={words}
      className={`timeline-span ${kind}${segment.change ? " change" : ""}`}
      data-values={segment.values}
      {...data}
      onClick={onClick}
      style={{
        left: percent(segment.frame_start, frameCount),
        width: percent(segment.frame_end - segment.frame_start + 1, frameCount),
        background,
      }}
    >
      {segment.values}
    </span>
  );
}

export function Timeline({
  tracks,
  tags = [],
  tagStart = null,
  frame,
  frameCount,
  range,
  selected,
  colourOf,
  dispatch,
}: {
  tracks: Track[];
  tags?: FrameTag[];
  /** the first frame of a frame tag being made */
  tagStart?: number | null;
  frame: number;
  frameCount: number;
  range: FrameRange;
  selected: string | null;
  colourOf: ColourOf;
  dispatch: Dispatch<VideoAction | { type: "select"; key: string | null }>;
}) {
  const rows = useMemo(() => tagRows(tags), [tags]);
  /** the frame under the pointer on a bar */
  const frameAt = (event: MouseEvent<HTMLElement>, bar: Element) => {
    const rect = bar.getBoundingClientRect();
    return Math.floor(((event.clientX - rect.left) / rect.width) * frameCount);
  };
  const seekAt = (event: MouseEvent<HTMLDivElement>) => dispatch({ type: "seek", frame: frameAt(event, event.currentTarget) });
  /** a click on a tag's bar picks the tag under the pointer (then seeks there, as the bar does) */
  const pickTag = (event: MouseEvent<HTMLSpanElement>, keys: string[]) => {
    const bar = event.currentTarget.parentElement;
    dispatch({ type: "select-frame-tag", key: pickedTag(tags, keys, bar ? frameAt(event, bar) : null) });
  };
  const outside = isWholeVideo(range, frameCount) ? null : (
    <>
      {range.first > 0 ? <span className="timeline-off" style={{ left: 0, width: percent(range.first, frameCount) }} /> : null}
      {range.last < frameCount - 1 ? (
        <span
          className="timeline-off"
          style={{ left: percent(range.last + 1, frameCount), width: percent(frameCount - range.last - 1, frameCount) }}
        />
      ) : null}
    </>
  );
  return (
    <div className="timeline" aria-label="Timeline">
      <div className="timeline-row">
        <span className="timeline-name">Frame {frame}</span>
        <div className="timeline-bar ruler" onClick={seekAt} data-testid="timeline-ruler">
          {outside}
          <span className="timeline-now" style={{ left: percent(frame, frameCount) }} />
        </div>
      </div>
      {tracks.map((track) => {
        const key = trackKey(track);
        const colour = colourOf(track.name);
        return (
          <div key={key} className={`timeline-row${key === selected ? " selected" : ""}`} data-track={track.track_id}>
            <button type="button" className="link timeline-name" onClick={() => dispatch({ type: "select", key })}>
              #{track.track_id} {track.name}
            </button>
            <div className="timeline-bar" onClick={seekAt}>
              {outside}
              {trackSegments(track, frameCount).map((segment) => (
                <SegmentSpan
                  key={segment.frame_start}
                  subject={`Track ${track.track_id} ${track.name}`}
                  kind="track"
                  segment={segment}
                  frameCount={frameCount}
                  background={`${colour}8c`}
                  data-span={`${segment.frame_start}-${segment.frame_end}`}
                />
              ))}
              {track.keyframes.map((k) => (
                <span
                  key={k.frame}
                  className={`timeline-key${k.outside ? " outside" : ""}`}
                  data-frame={k.frame}
                  title={`keyframe ${k.frame}${k.outside ? " (outside)" : ""}`}
                  style={{ left: percent(k.frame + 0.5, frameCount) }}
                />
              ))}
              <span className="timeline-now" style={{ left: percent(frame, frameCount) }} />
            </div>
          </div>
        );
      })}
      {rows.map((row) => (
        <div key={row.name} className="timeline-row" data-tag={row.name}>
          <span className="timeline-name">Tag {row.name}</span>
          <div className="timeline-bar" onClick={seekAt}>
            {outside}
            {row.segments.map((segment) => (
              <SegmentSpan
                key={segment.frame_start}
                subject={`Tag ${row.name}`}
                kind="tag"
                segment={segment}
                frameCount={frameCount}
                background={`${colourOf(row.name)}99`}
                data-tag-span={`${segment.frame_start}-${segment.frame_end}`}
                onClick={(event) => pickTag(event, segment.keys)}
              />
            ))}
            <span className="timeline-now" style={{ left: percent(frame, frameCount) }} />
          </div>
        </div>
      ))}
      {tagStart !== null ? (
        <div className="timeline-row pending" data-tag-pending={`${Math.min(tagStart, frame)}-${Math.max(tagStart, frame)}`}>
          <span className="timeline-name">New tag</span>
          <div className="timeline-bar" onClick={seekAt}>
            <span
              className="timeline-span pending"
              style={{
                left: percent(Math.min(tagStart, frame), frameCount),
                width: percent(Math.abs(frame - tagStart) + 1, frameCount),
              }}
            />
            <span className="timeline-now" style={{ left: percent(frame, frameCount) }} />
          </div>
        </div>
      ) : null}
    </div>
  );
}
