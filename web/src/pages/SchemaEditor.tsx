import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useState } from "react";
import { useParams } from "react-router";

import { call } from "../api/client";
import type { AttributeGroup, LabelSpec, SchemaView } from "../api/types";
import { ErrorNotice, Loading, PageTitle } from "../components/common";
import { AttributeField } from "../editor/AttributeField";
import { withAttribute } from "../editor/instances";
import { keys } from "../hooks/keys";
import { useSchema } from "../hooks/project";
import { useApi } from "../services";

const KINDS: AttributeGroup["kind"][] = ["select", "multi_select", "radio", "text", "number", "date", "tree"];
const KIND_NAMES: Record<AttributeGroup["kind"], string> = {
  select: "Select (one)",
  multi_select: "Multi-select (several)",
  radio: "Radio (one)",
  text: "Text",
  number: "Number",
  date: "Date",
  tree: "Tree (path of options)",
};
const WITH_OPTIONS = new Set<AttributeGroup["kind"]>(["select", "multi_select", "radio", "tree"]);
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

export function SchemaEditor() {
  const api = useApi();
  const queryClient = useQueryClient();
  const project = useParams().project ?? "";
  const schema = useSchema(project);
  const [draft, setDraft] = useState<SchemaView | null>(null);
  const [newLabel, setNewLabel] = useState("");
  const [newColour, setNewColour] = useState(PALETTE[0] ?? "#1f77b4");
  useEffect(() => {
    if (schema.data) setDraft(schema.data);
  }, [schema.data]);
  const save = useMutation({
    mutationFn: (body: SchemaView) =>
      call(api.PUT("/api/v1/projects/{project_string_id}/schema", { params: { path: { project_string_id: project } }, body })),
    onSuccess: (saved) => queryClient.setQueryData(keys.schema(project), saved),
  });

  if (schema.isPending || !draft) {
    return schema.error ? <ErrorNotice error={schema.error} /> : <Loading what="the label schema" />;
  }
  const saved = schema.data;
  const existing = new Set(saved?.labels.map((l) => l.name));
  const changed = JSON.stringify(draft) !== JSON.stringify(saved);

  function setLabels(labels: LabelSpec[]) {
    setDraft((d) => (d ? { ...d, labels } : d));
  }
  function setGroups(attribute_groups: AttributeGroup[]) {
    setDraft((d) => (d ? { ...d, attribute_groups } : d));
  }
  function addLabel(event: FormEvent) {
    event.preventDefault();
    const name = newLabel.trim();
    if (!draft || !name || draft.labels.some((l) => l.name === name)) return;
    setLabels([...draft.labels, { name, colour: newColour }]);
    setNewLabel("");
    setNewColour(PALETTE[(draft.labels.length + 1) % PALETTE.length] ?? "#1f77b4");
  }
  function updateGroup(index: number, change: Partial<AttributeGroup>) {
    if (!draft) return;
    setGroups(draft.attribute_groups.map((g, i) => (i === index ? { ...g, ...change } : g)));
  }

  return (
    <section className="schema-editor">
      <PageTitle
        actions={
          <>
            {changed ? <span className="unsaved">Unsaved changes</span> : null}
            <button type="button" onClick={() => saved && setDraft(saved)} disabled={!changed}>
              Discard changes
            </button>
            <button type="button" className="primary" onClick={() => save.mutate(draft)} disabled={!changed || save.isPending}>
              Save schema
            </button>
          </>
        }
      >
        Label schema
      </PageTitle>
      <ErrorNotice error={save.error} title="Not saved" />
      {save.isSuccess && !changed ? (
        <p className="notice ok" role="status">
          Saved (version {saved?.version}).
        </p>
      ) : null}
      <h2>Labels</h2>
      <table className="table labels">
        <thead>
          <tr>
            <th>Label</th>
            <th>Colour</th>
            <th>
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {draft.labels.map((label, index) => (
            <tr key={label.name}>
              <td>
                <span className="swatch" style={{ background: label.colour }} aria-hidden="true" /> {label.name}
                {!existing.has(label.name) ? <em className="hint"> new</em> : null}
              </td>
              <td>
                <input
                  type="color"
                  value={label.colour}
                  aria-label={`Colour of ${label.name}`}
                  onChange={(e) =>
                    setLabels(draft.labels.map((l, i) => (i === index ? { ...l, colour: e.target.value } : l)))
                  }
                />
              </td>
              <td>
                <button
                  type="button"
                  onClick={() => setLabels(draft.labels.filter((_, i) => i !== index))}
                  aria-label={`Remove label ${label.name}`}
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="inline-form" onSubmit={addLabel} aria-label="Add label">
        <label>
          New label
          <input value={newLabel} onChange={(e) => setNewLabel(e.target.value)} placeholder="traffic cone" />
        </label>
        <label>
          Colour
          <input type="color" value={newColour} onChange={(e) => setNewColour(e.target.value)} />
        </label>
        <button type="submit">Add label</button>
      </form>

      <h2>Attribute groups</h2>
      {draft.attribute_groups.length === 0 ? <p className="hint">No attribute groups yet.</p> : null}
      {draft.attribute_groups.map((group, index) => (
        <fieldset key={index} className="card attribute-group">
          <legend>{group.name || "New attribute group"}</legend>
          <div className="row">
            <label>
              Name
              <input value={group.name} onChange={(e) => updateGroup(index, { name: e.target.value })} required />
            </label>
            <label>
              Kind
              <select
                value={group.kind}
                onChange={(e) => {
                  const kind = e.target.value as AttributeGroup["kind"];
                  updateGroup(index, {
                    kind,
                    options: WITH_OPTIONS.has(kind) ? group.options ?? [] : [],
                    min: kind === "number" ? group.min : null,
                    max: kind === "number" ? group.max : null,
                    default: null, // a value of one kind is seldom one of another
                  });
                }}
              >
                {KINDS.map((kind) => (
                  <option key={kind} value={kind}>
                    {KIND_NAMES[kind]}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Applies to
              <select
                value={group.scope}
                onChange={(e) =>
                  updateGroup(index, { scope: e.target.value as AttributeGroup["scope"], label_names: [] })
                }
              >
                <option value="label">Instances of labels</option>
                <option value="global">The whole file</option>
              </select>
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={group.required}
                onChange={(e) => updateGroup(index, { required: e.target.checked })}
              />
              Required
            </label>
            <button
              type="button"
              onClick={() => setGroups(draft.attribute_groups.filter((_, i) => i !== index))}
              aria-label={`Remove attribute group ${group.name}`}
            >
              Remove
            </button>
          </div>
          {group.scope === "label" ? (
            <fieldset className="label-picks">
              <legend>Labels (none ticked: every label)</legend>
              {draft.labels.map((label) => (
                <label key={label.name} className="check">
                  <input
                    type="checkbox"
                    checked={group.label_names?.includes(label.name) ?? false}
                    onChange={(e) =>
                      updateGroup(index, {
                        label_names: e.target.checked
                          ? [...(group.label_names ?? []), label.name]
                          : (group.label_names ?? []).filter((n) => n !== label.name),
                      })
                    }
                  />
                  {label.name}
                </label>
              ))}
            </fieldset>
          ) : null}
          {WITH_OPTIONS.has(group.kind) ? (
            <label>
              Options, one per line{group.kind === "tree" ? " as paths: vehicle/car/sedan" : ""}
              <textarea
                rows={4}
                value={(group.options ?? []).join("\n")}
                onChange={(e) => updateGroup(index, { options: e.target.value.split("\n") })}
                onBlur={(e) =>
                  updateGroup(index, {
                    options: e.target.value
                      .split("\n")
                      .map((o) => o.trim())
                      .filter(Boolean),
                  })
                }
              />
            </label>
          ) : null}
          {group.kind === "number" ? (
            <div className="row">
              <label>
                Minimum
                <input
                  type="number"
                  value={group.min ?? ""}
                  onChange={(e) => updateGroup(index, { min: e.target.value === "" ? null : Number(e.target.value) })}
                />
              </label>
              <label>
                Maximum
                <input
                  type="number"
                  value={group.max ?? ""}
                  onChange={(e) => updateGroup(index, { max: e.target.value === "" ? null : Number(e.target.value) })}
                />
              </label>
            </div>
          ) : null}
          {group.scope === "label" ? <DefaultField group={group} onChange={(value) => updateGroup(index, { default: value })} /> : null}
        </fieldset>
      ))}
      <button
        type="button"
        onClick={() =>
          setGroups([
            ...draft.attribute_groups,
            { name: "", kind: "select", scope: "label", label_names: [], options: [], required: false },
          ])
        }
      >
        Add attribute group
      </button>
    </section>
  );
}

/** A group's default, edited with the input its values get in the editor; a new instance of its labels starts
 * with it (the server refuses one the group would refuse). */
function DefaultField({ group, onChange }: { group: AttributeGroup; onChange: (value: AttributeGroup["default"]) => void }) {
  const name = group.name || "the new group";
  return (
    <div className="row default-field" role="group" aria-label={`Default of ${name}`}>
      <AttributeField
        group={{ ...group, name: "Default (new instances start with it)", required: false }}
        value={group.default ?? undefined}
        disabled={false}
        onChange={(value) => onChange((withAttribute({}, "value", value).value as AttributeGroup["default"]) ?? null)}
      />
      {group.default !== null && group.default !== undefined ? (
        <button type="button" onClick={() => onChange(null)} aria-label={`No default for ${name}`}>
          No default
        </button>
      ) : null}
    </div>
  );
}
