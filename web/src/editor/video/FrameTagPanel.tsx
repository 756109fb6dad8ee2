/**
 * The video editor's frame tags: the labels on the current frame, every tag with its frames (a click seeks to
 * its first), deleting one, and making one: its first frame marked here (T), then its last (T again).
 */
import type { Dispatch } from "react";

import type { ColourOf } from "../palette";
import { type FrameTag, covers, lastFrameOf, sortedTags, tagKey, tagsOnFrame } from "./frameTags";
import type { VideoAction } from "./videoReducer";

export function frameSpan(tag: FrameTag): string {
  const last = lastFrameOf(tag);
  return last === tag.frame_start ? `frame ${last}` : `frames ${tag.frame_start}–${last}`;
}

export function FrameTagPanel({
  tags,
  frame,
  tagStart,
  label,
  readOnly,
  colourOf,
  dispatch,
}: {
  tags: FrameTag[];
  frame: number;
  tagStart: number | null;
  /** the label a new tag gets (the toolbar's) */
  label: string;
  readOnly: boolean;
  colourOf: ColourOf;
  dispatch: Dispatch<VideoAction>;
}) {
  const here = tagsOnFrame(tags, frame);
  return (
    <section aria-labelledby="frame-tags-title">
      <h2 id="frame-tags-title">Frame tags ({tags.length})</h2>
      <p role="status" aria-label="Frame tags on this frame">
        {here.length === 0 ? `None on frame ${frame}` : `On frame ${frame}: ${here.map((t) => t.name).join(", ")}`}
      </p>
      {!readOnly ? (
        <div className="actions">
          {tagStart === null ? (
            <button type="button" onClick={() => dispatch({ type: "frame-tag" })} disabled={!label} title="T">
              Start tag {label} here
            </button>
          ) : (
            <>
              <button type="button" onClick={() => dispatch({ type: "frame-tag" })} disabled={!label} title="T">
                End tag {label} here
              </button>
              <p className="hint">
                Tag {label} from frame {tagStart}: step to its other end and press T (Escape: cancel).
              </p>
            </>
          )}
        </div>
      ) : null}
      <ul className="instance-list" aria-label="Frame tags">
        {sortedTags(tags).map((tag) => {
          const key = tagKey(tag);
          const span = frameSpan(tag);
          return (
            <li key={key} className={covers(tag, frame) ? "selected" : undefined}>
              <span className="swatch" style={{ background: colourOf(tag.name) }} aria-hidden="true" />
              <button type="button" className="link" onClick={() => dispatch({ type: "seek", frame: tag.frame_start })}>
                {tag.name} · {span}
              </button>
              {!readOnly ? (
                <button
                  type="button"
                  className="icon"
                  aria-label={`Delete frame tag ${tag.name}, ${span}`}
                  onClick={() => dispatch({ type: "remove-frame-tag", key })}
                >
                  ×
                </button>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
