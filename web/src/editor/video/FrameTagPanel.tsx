/**
 * The video editor's frame tags: the labels on the current frame, every tag with its frames and attributes (a
 * click seeks to its first frame and picks it), deleting one, making one: its first frame marked here (T), then
 * its last (T again); and the attributes of the tag made or picked, from its label's groups in the schema.
 */
import type { Dispatch } from "react";

import type { AttributeGroup } from "../../api/types";
import { AttributeField } from "../AttributeField";
import { groupsOfLabel } from "../attributeDefaults";
import type { ColourOf } from "../palette";
import {
  type FrameTag,
  covers,
  describeAttributes,
  findTag,
  frameSpan,
  sortedTags,
  tagKey,
  tagsOnFrame,
} from "./frameTags";
import type { VideoAction } from "./videoReducer";

export function FrameTagPanel({
  tags,
  frame,
  tagStart,
  selected,
  label,
  readOnly,
  attributeGroups,
  colourOf,
  dispatch,
}: {
  tags: FrameTag[];
  frame: number;
  tagStart: number | null;
  /** the tag whose attributes are edited (its key) */
  selected: string | null;
  /** the schema's groups: those of the selected tag's label are edited here */
  attributeGroups: AttributeGroup[];
  /** the label a new tag gets (the toolbar's) */
  label: string;
  readOnly: boolean;
  colourOf: ColourOf;
  dispatch: Dispatch<VideoAction>;
}) {
  const here = tagsOnFrame(tags, frame);
  const chosen = findTag(tags, selected);
  const groups = chosen ? groupsOfLabel(attributeGroups, chosen.name) : [];
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
          const values = describeAttributes(tag);
          return (
            <li key={key} className={covers(tag, frame) ? "selected" : undefined}>
              <span className="swatch" style={{ background: colourOf(tag.name) }} aria-hidden="true" />
              <button
                type="button"
                className="link"
                aria-pressed={key === selected}
                onClick={() => {
                  dispatch({ type: "seek", frame: tag.frame_start });
                  dispatch({ type: "select-frame-tag", key });
                }}
              >
                {tag.name} · {span}
                {values ? ` · ${values}` : ""}
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
      {chosen && groups.length > 0 ? (
        <section aria-labelledby="frame-tag-attributes-title">
          <h3 id="frame-tag-attributes-title">
            Attributes of frame tag {chosen.name}, {frameSpan(chosen)}
          </h3>
          {groups.map((group) => (
            <AttributeField
              key={`${tagKey(chosen)}:${group.name}`}
              group={group}
              value={chosen.attributes?.[group.name]}
              disabled={readOnly}
              onChange={(value) =>
                dispatch({ type: "frame-tag-attribute", key: tagKey(chosen), group: group.name, value })
              }
            />
          ))}
        </section>
      ) : null}
    </section>
  );
}
