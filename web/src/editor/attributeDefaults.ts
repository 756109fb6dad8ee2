/**
 * Which of the schema's attribute groups an instance of a label has, and the values a new instance starts with:
 * the `default` of each of those groups (groups without one are left unset, so a required one still has to be
 * chosen). One place for the image editor's new shapes and tags, the video editor's new tracks (they keep their
 * first shape's values, for the whole track) and new frame tags. The server does not fill defaults in: it checks
 * what is saved. Pure.
 */
import type { AttributeGroup } from "../api/types";
import { withAttribute } from "./instances";

/** The groups that apply to instances of `label` (the file-level, global, ones never do). */
export function groupsOfLabel(groups: AttributeGroup[], label: string): AttributeGroup[] {
  return groups.filter((g) => g.scope !== "global" && (!g.label_names?.length || g.label_names.includes(label)));
}

/** A new instance's attribute values: the defaults of its label's groups (an empty default is no default). */
export function defaultAttributes(groups: AttributeGroup[], label: string): Record<string, unknown> {
  let values: Record<string, unknown> = {};
  for (const group of groupsOfLabel(groups, label)) {
    const value = Array.isArray(group.default) ? [...group.default] : group.default;
    if (value !== null) values = withAttribute(values, group.name, value);
  }
  return values;
}
