/**
 * The video editor's side panel: the tracks, the selected one on the current frame (outside, occluded, keyframe)
 * and its attributes: fixed for the track, or per frame (from this frame to the next keyframe); then what the editor adds below (the frame tags).
 */
import { type Dispatch, type ReactNode, useState } from "react";

import type { AttributeGroup } from "../../api/types";
import { AttributeField } from "../AttributeField";
import { groupsOfLabel } from "../attributeDefaults";
import type { ColourOf } from "../palette";
import { type Track, stateAt } from "./interpolation";
import { findTrack, frameAttributesAt, trackKey } from "./tracks";
import type { VideoAction } from "./videoReducer";

function describeState(track: Track, frame: number): string {
  const state = stateAt(track, frame);
  if (!state) return track.keyframes[0] && frame < track.keyframes[0].frame ? "not started" : "outside";
  if (state.outside) return "outside (keyframe)";
  return `${state.keyframe ? "keyframe" : "interpolated"}${state.occluded ? ", occluded" : ""}`;
}

export function TrackPanel({
  tracks,
  frame,
  selected,
  readOnly,
  attributeGroups,
  colourOf,
  dispatch,
  children,
}: {
  tracks: Track[];
  frame: number;
  selected: string | null;
  readOnly: boolean;
  /** the schema's groups: those of the selected track's label are edited here */
  attributeGroups: AttributeGroup[];
  colourOf: ColourOf;
  dispatch: Dispatch<VideoAction | { type: "select"; key: string | null }>;
  /** more sections below the tracks' (the frame tags) */
  children?: ReactNode;
}) {
  /** which attributes the fields edit: the whole track's, or those from this frame on (one set shown at a time) */
  const [perFrame, setPerFrame] = useState(false);
  const chosen = findTrack(tracks, selected);
  const onKeyframe = chosen?.keyframes.some((k) => k.frame === frame) ?? false;
  const visible = chosen ? stateAt(chosen, frame) : null;
  const groups = chosen ? groupsOfLabel(attributeGroups, chosen.name) : [];
  return (
    <aside className="side" aria-label="Tracks">
      <section aria-labelledby="tracks-title">
        <h2 id="tracks-title">Tracks ({tracks.length})</h2>
        {tracks.length === 0 ? <p className="hint">None yet. Pick Box (B) and draw on a frame.</p> : null}
        <ul className="instance-list" aria-label="Tracks">
          {tracks.map((track) => {
            const key = trackKey(track);
            return (
              <li key={key} className={key === selected ? "selected" : undefined}>
                <span className="swatch" style={{ background: colourOf(track.name) }} aria-hidden="true" />
                <button type="button" className="link" aria-pressed={key === selected} onClick={() => dispatch({ type: "select", key })}>
                  #{track.track_id} {track.shape} {track.name} · {track.keyframes.length} keyframes
                </button>
                {!readOnly ? (
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Delete track ${track.track_id}`}
                    onClick={() => dispatch({ type: "remove-track", key })}
                  >
                    ×
                  </button>
                ) : null}
              </li>
            );
          })}
        </ul>
      </section>
      {chosen ? (
        <section aria-labelledby="track-title">
          <h2 id="track-title">
            Track #{chosen.track_id} on frame {frame}
          </h2>
          <p role="status" aria-label="Track state">
            {describeState(chosen, frame)}
          </p>
          {!readOnly ? (
            <div className="actions">
              <button type="button" onClick={() => dispatch({ type: "outside" })} disabled={!visible} title="H">
                {visible?.outside ? "Back in view" : "Mark outside"}
              </button>
              <button type="button" onClick={() => dispatch({ type: "occluded" })} disabled={!visible || visible.outside}>
                {visible?.occluded ? "Not occluded" : "Occluded"}
              </button>
              <button
                type="button"
                onClick={() => dispatch({ type: "remove-keyframe" })}
                disabled={!onKeyframe || chosen.keyframes.length < 2}
              >
                Remove keyframe
              </button>
            </div>
          ) : null}
        </section>
      ) : null}
      {chosen && groups.length > 0 ? (
        <section aria-labelledby="track-attributes-title">
          <h2 id="track-attributes-title">Attributes of track #{chosen.track_id}</h2>
          <div className="actions" role="group" aria-label="Attributes set">
            <button type="button" aria-pressed={!perFrame} onClick={() => setPerFrame(false)}>
              Whole track
            </button>
            <button type="button" aria-pressed={perFrame} onClick={() => setPerFrame(true)}>
              From frame {frame}
            </button>
          </div>
          {!perFrame ? (
            groups.map((group) => (
              <AttributeField
                key={`${trackKey(chosen)}:${group.name}`}
                group={group}
                value={chosen.attributes?.[group.name]}
                disabled={readOnly}
                onChange={(value) => dispatch({ type: "track-attribute", key: trackKey(chosen), group: group.name, value })}
              />
            ))
          ) : visible && !visible.outside ? (
            <>
              <p className="hint">Held until the next keyframe (a keyframe is made here), over the whole track's.</p>
              {groups.map((group) => (
                <AttributeField
                  key={`${trackKey(chosen)}@${frame}:${group.name}`}
                  group={group}
                  value={frameAttributesAt(chosen, frame)[group.name]}
                  disabled={readOnly}
                  onChange={(value) => dispatch({ type: "frame-attribute", key: trackKey(chosen), group: group.name, value })}
                />
              ))}
            </>
          ) : (
            <p className="hint">The object is not in view on frame {frame}: its attributes here are set where it is.</p>
          )}
        </section>
      ) : null}
      {children}
    </aside>
  );
}
