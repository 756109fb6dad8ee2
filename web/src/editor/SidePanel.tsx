/** The editor's side panel: the comparison layers, the instances, the selected one's attributes, tags, file attributes. */
import type { Dispatch } from "react";

import type { AttributeGroup } from "../api/types";
import { AttributeField } from "./AttributeField";
import { groupsOfLabel } from "./attributeDefaults";
import { describe } from "./instances";
import type { EditorAction } from "./reducer";
import { type ColourOf, layerColour } from "./palette";
import { type EditorState, selectedShape, shapesOf } from "./state";
import type { Layer } from "./types";

export function SidePanel({
  state,
  dispatch,
  attributeGroups,
  colourOf,
  layers,
  visibleLayers,
  onShowLayer,
}: {
  state: EditorState;
  dispatch: Dispatch<EditorAction>;
  attributeGroups: AttributeGroup[];
  colourOf: ColourOf;
  layers: Layer[];
  visibleLayers: Set<string>;
  onShowLayer: (id: string, shown: boolean) => void;
}) {
  const { readOnly, selected } = state;
  const shapes = shapesOf(state);
  const chosen = selectedShape(state);
  const chosenGroups = chosen ? groupsOfLabel(attributeGroups, chosen.name) : [];
  const globalGroups = attributeGroups.filter((g) => g.scope === "global");
  const globalShape = shapes.find((s) => s.kind === "global");
  const tags = shapes.filter((s) => s.kind === "tag");
  const listed = shapes.filter((s) => s.kind !== "tag" && s.kind !== "global");
  const remove = (key: string) => dispatch({ type: "remove", key });
  const setAttribute = (key: string | null, group: string, value: unknown) =>
    dispatch({ type: "attribute", key, group, value });

  return (
    <aside className="side" aria-label="Instances and attributes">
      {layers.length > 0 ? (
        <section aria-labelledby="layers-title">
          <h2 id="layers-title">Compare</h2>
          {layers.map((layer, index) => (
            <label key={layer.id} className="check">
              <input
                type="checkbox"
                checked={visibleLayers.has(layer.id)}
                onChange={(e) => onShowLayer(layer.id, e.target.checked)}
              />
              <span className="swatch" style={{ borderColor: layerColour(index) }} />
              {layer.title} ({layer.shapes.filter((s) => s.kind !== "global").length})
            </label>
          ))}
        </section>
      ) : null}
      <section aria-labelledby="instances-title">
        <h2 id="instances-title">Instances ({listed.length})</h2>
        {listed.length === 0 ? <p className="hint">None yet. Pick a tool and draw on the image.</p> : null}
        <ul className="instance-list" aria-label="Instances">
          {listed.map((shape) => (
            <li key={shape.key} className={shape.key === selected ? "selected" : undefined}>
              <span className="swatch" style={{ background: colourOf(shape.name) }} aria-hidden="true" />
              <button
                type="button"
                className="link"
                aria-pressed={shape.key === selected}
                onClick={() => dispatch({ type: "select", key: shape.key })}
              >
                {describe(shape)}
              </button>
              {!readOnly ? (
                <button type="button" className="icon" aria-label={`Delete ${describe(shape)}`} onClick={() => remove(shape.key)}>
                  ×
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      </section>
      {chosen && chosenGroups.length > 0 ? (
        <section aria-labelledby="attributes-title">
          <h2 id="attributes-title">Attributes of {describe(chosen)}</h2>
          {chosenGroups.map((group) => (
            <AttributeField
              key={`${chosen.key}:${group.name}`}
              group={group}
              value={chosen.attributes[group.name]}
              disabled={readOnly}
              onChange={(value) => setAttribute(chosen.key, group.name, value)}
            />
          ))}
        </section>
      ) : null}
      <section aria-labelledby="tags-title">
        <h2 id="tags-title">Tags</h2>
        {tags.length === 0 ? (
          <p className="hint">{readOnly ? "No tags." : "No tags. “Tag file” (T) adds the current label."}</p>
        ) : null}
        <ul className="tags">
          {tags.map((tag) => (
            <li key={tag.key}>
              <span className="swatch" style={{ background: colourOf(tag.name) }} aria-hidden="true" />
              {tag.name}
              {!readOnly ? (
                <button type="button" className="icon" aria-label={`Remove tag ${tag.name}`} onClick={() => remove(tag.key)}>
                  ×
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      </section>
      {globalGroups.length > 0 ? (
        <section aria-labelledby="file-attributes-title">
          <h2 id="file-attributes-title">File attributes</h2>
          {globalGroups.map((group) => (
            <AttributeField
              key={`global:${group.name}:${globalShape?.key ?? ""}`}
              group={group}
              value={globalShape?.attributes[group.name]}
              disabled={readOnly}
              onChange={(value) => setAttribute(null, group.name, value)}
            />
          ))}
        </section>
      ) : null}
    </aside>
  );
}
