import { describe, expect, it } from "vitest";

import type { AttributeGroup } from "../api/types";
import { defaultAttributes, groupsOfLabel } from "./attributeDefaults";

function group(name: string, change: Partial<AttributeGroup> = {}): AttributeGroup {
  return { name, kind: "select", scope: "label", label_names: [], options: ["a", "b"], required: false, ...change };
}

const GROUPS: AttributeGroup[] = [
  group("occluded", { options: ["no", "partly"], default: "no" }),
  group("colour", { label_names: ["car"], default: "b" }),
  group("weather", { scope: "global", default: "a" }),
  group("make", { kind: "text", label_names: ["car"] }),
  group("wheels", { kind: "number", label_names: ["car", "bus"], options: [], default: 4 }),
  group("parts", { kind: "multi_select", label_names: ["bus"], options: ["door", "roof"], default: ["door"] }),
  group("note", { kind: "text", label_names: ["bus"], options: [], default: "" }),
];

describe("defaultAttributes", () => {
  it("gives a new instance the defaults of its label's groups, and nothing for groups without one", () => {
    expect(defaultAttributes(GROUPS, "car")).toEqual({ occluded: "no", colour: "b", wheels: 4 });
    expect(defaultAttributes(GROUPS, "bus")).toEqual({ occluded: "no", wheels: 4, parts: ["door"] });
    expect(defaultAttributes(GROUPS, "person")).toEqual({ occluded: "no" });
  });

  it("leaves the file-level groups and a schema without defaults alone", () => {
    expect(defaultAttributes([group("weather", { scope: "global", default: "a" })], "car")).toEqual({});
    expect(defaultAttributes([group("plain"), group("also", { default: null })], "car")).toEqual({});
    expect(defaultAttributes([], "car")).toEqual({});
  });

  it("copies a list default, so an instance's edits do not reach the schema", () => {
    const values = defaultAttributes(GROUPS, "bus");
    (values.parts as string[]).push("roof");
    expect(GROUPS[5]?.default).toEqual(["door"]);
  });
});

describe("groupsOfLabel", () => {
  it("keeps the groups of every label and those naming the label, never the global ones", () => {
    expect(groupsOfLabel(GROUPS, "bus").map((g) => g.name)).toEqual(["occluded", "wheels", "parts", "note"]);
  });
});
