import { describe, expect, it } from "vitest";

import { complete, fieldSegments, offsetOf, quoteName, tokenize, type Vocabulary } from "./complete";

const vocabulary: Vocabulary = {
  labels: ["car", "pedestrian", "traffic light"],
  attributes: [
    { name: "occluded", kind: "radio", options: ["no", "partly", "mostly"] },
    { name: "time of day", kind: "select", options: ["day", "night"] },
  ],
  datasets: ["default", "street"],
};

function labels(text: string, cursor = text.length): string[] {
  return complete(text, cursor, vocabulary).options.map((option) => option.label);
}

function apply(text: string, choice: string, cursor = text.length): string {
  const completion = complete(text, cursor, vocabulary);
  const option = completion.options.find((o) => o.label === choice);
  if (!option) throw new Error(`${choice} not offered: ${completion.options.map((o) => o.label).join(", ")}`);
  return text.slice(0, completion.from) + option.apply + text.slice(completion.to);
}

describe("complete", () => {
  it("offers the field roots and 'not' at the start", () => {
    expect(labels("")).toEqual(["labels.", "frames.", "attributes.", "file.", "dataset.", "not"]);
    expect(labels("la")).toEqual(["labels."]);
    expect(apply("la", "labels.")).toBe("labels.");
  });

  it("offers label names after labels., quoting names that need it", () => {
    expect(labels("labels.")).toEqual(["car", "pedestrian", "traffic light"]);
    expect(labels("labels.tr")).toEqual(["traffic light"]);
    expect(apply("labels.tr", "traffic light")).toBe('labels."traffic light"');
    expect(apply('labels."traf', "traffic light")).toBe('labels."traffic light"');
    expect(apply("labels.c", "car")).toBe("labels.car");
  });

  it("offers attribute groups, file fields and dataset fields", () => {
    expect(labels("attributes.")).toEqual(["occluded", "time of day"]);
    expect(apply("attributes.ti", "time of day")).toBe('attributes."time of day"');
    expect(labels("file.")).toEqual(["name", "type", "width", "height", "created", "status", "metadata"]);
    expect(apply("file.me", "metadata")).toBe("file.metadata.");
    expect(labels("file.metadata.")).toEqual([]);
    expect(labels("dataset.")).toEqual(["name", "id"]);
  });

  it("offers operators after a field and connectives after a comparison", () => {
    expect(labels("labels.car ")).toEqual(["=", "!=", "<", "<=", ">", ">=", "in", "not in"]);
    expect(labels("labels.car >= 1 ")).toEqual(["and", "or"]);
    expect(labels("labels.car >= 1 o")).toEqual(["or"]);
    expect(apply("labels.car >= 1 a", "and")).toBe("labels.car >= 1 and");
    expect(labels("(labels.car >= 1) ")).toEqual(["and", "or"]);
  });

  it("starts a new comparison after and / or / not / (", () => {
    expect(labels("labels.car >= 1 and ")).toContain("labels.");
    expect(labels("not ")).toContain("attributes.");
    expect(labels("(")).toContain("file.");
    expect(apply("labels.car > 1 and labels.pe", "pedestrian")).toBe("labels.car > 1 and labels.pedestrian");
  });

  it("offers the values an attribute, status or dataset can take", () => {
    expect(labels("attributes.occluded = ")).toEqual(["no", "partly", "mostly"]);
    expect(apply("attributes.occluded = p", "partly")).toBe('attributes.occluded = "partly"');
    expect(labels("file.status in [")).toEqual(["ready", "processing", "quarantined"]);
    expect(labels('file.status in ["ready", ')).toEqual(["ready", "processing", "quarantined"]);
    expect(labels("dataset.name = ")).toEqual(["default", "street"]);
    expect(labels("labels.car > ")).toEqual([]);
  });

  it("completes the word under the cursor, not the end of the text", () => {
    const text = "labels.ca >= 1";
    const completion = complete(text, 9, vocabulary);
    expect(completion.options.map((o) => o.label)).toEqual(["car"]);
    expect(text.slice(0, completion.from) + completion.options[0]?.apply + text.slice(completion.to)).toBe(
      "labels.car >= 1",
    );
  });
});

describe("helpers", () => {
  it("quotes names the grammar cannot read bare", () => {
    expect(quoteName("car")).toBe("car");
    expect(quoteName("traffic light")).toBe('"traffic light"');
    expect(quoteName("and")).toBe('"and"');
    expect(quoteName("2wheels")).toBe('"2wheels"');
  });

  it("splits fields into segments", () => {
    expect(fieldSegments("labels")).toEqual(["labels"]);
    expect(fieldSegments("labels.")).toEqual(["labels", ""]);
    expect(fieldSegments('labels."traffic light"')).toEqual(["labels", "traffic light"]);
    expect(fieldSegments("file.metadata.weather")).toEqual(["file", "metadata", "weather"]);
  });

  it("tokenizes comparisons, lists and keywords", () => {
    expect(tokenize('labels.car >= 1 and file.status in ["ready"]').map((t) => t.kind)).toEqual([
      "field",
      "op",
      "value",
      "keyword",
      "field",
      "keyword",
      "lbracket",
      "value",
      "rbracket",
    ]);
  });

  it("turns the API's line and column into an offset", () => {
    expect(offsetOf("labels.car >", 1, 13)).toBe(12);
    expect(offsetOf("a\nlabels.x", 2, 8)).toBe(9);
    expect(offsetOf("abc", 1, 99)).toBe(3);
  });
});
