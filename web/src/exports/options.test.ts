import { describe, expect, it } from "vitest";

import { EMPTY_FIELDS, exportOptions, exportSnapshotName, FORMATS, progressOf } from "./options";

describe("exportOptions", () => {
  it("sends nothing for a format that takes no options, whatever was typed", () => {
    const fields = { ...EMPTY_FIELDS, everyNFrames: "5", split: true, shardMiB: "16", references: true };
    for (const format of ["sagemaker", "cvat_video", "mot"] as const) {
      expect(exportOptions(format, fields)).toEqual({});
    }
  });

  it("asks for S3 references where the format names its images' originals, and only when ticked", () => {
    for (const format of ["coco", "voc", "jsonl"] as const) {
      expect(exportOptions(format, { ...EMPTY_FIELDS, references: true })).toEqual({ references: "s3" });
      expect(exportOptions(format, EMPTY_FIELDS)).toEqual({});
    }
    expect(exportOptions("yolo", { ...EMPTY_FIELDS, references: true })).toEqual({});
    expect(exportOptions("voc", { ...EMPTY_FIELDS, everyNFrames: "5", split: true })).toEqual({});
  });

  it("gives COCO its frame step only", () => {
    expect(exportOptions("coco", { ...EMPTY_FIELDS, everyNFrames: " 10 ", split: true })).toEqual({ every_n_frames: 10 });
    expect(exportOptions("coco", EMPTY_FIELDS)).toEqual({});
  });

  it("gives YOLO its split, seed and frame step, leaving blank shares out", () => {
    const fields = { ...EMPTY_FIELDS, split: true, train: "0.7", val: "0.2", test: "0.1", seed: "3", everyNFrames: "2" };
    expect(exportOptions("yolo", fields)).toEqual({
      split: { train: 0.7, val: 0.2, test: 0.1 },
      seed: 3,
      every_n_frames: 2,
    });
    expect(exportOptions("yolo", { ...fields, test: "", seed: "" })).toEqual({
      split: { train: 0.7, val: 0.2 },
      every_n_frames: 2,
    });
    expect(exportOptions("yolo", { ...fields, split: false, everyNFrames: "" })).toEqual({});
  });

  it("passes text that is no number on as typed, for the API to name the problem", () => {
    expect(exportOptions("coco", { ...EMPTY_FIELDS, everyNFrames: "every" })).toEqual({ every_n_frames: "every" });
  });

  it("turns a pack's MiB into shard_bytes", () => {
    expect(exportOptions("packed", { ...EMPTY_FIELDS, shardMiB: "16" })).toEqual({ shard_bytes: 16 * 1024 * 1024 });
    expect(exportOptions("packed", { ...EMPTY_FIELDS, everyNFrames: "4" })).toEqual({});
  });

  it("lists every format the API accepts, once", () => {
    const names = FORMATS.map((f) => f.format);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("sagemaker");
  });
});

describe("progressOf", () => {
  it("reads pages done of pages planned", () => {
    expect(progressOf({ status: "running", pages_done: 1, pages_total: 4 })).toEqual({
      fraction: 0.25,
      text: "1 of 4 pages",
    });
    expect(progressOf({ status: "queued", pages_done: 0, pages_total: 0 })).toEqual({ fraction: 0, text: "queued" });
    expect(progressOf({ status: "completed", pages_done: 0, pages_total: 0 }).fraction).toBe(1);
  });
});

describe("exportSnapshotName", () => {
  it("is a valid snapshot name made from the time", () => {
    const name = exportSnapshotName(new Date(Date.UTC(2026, 11, 3, 21, 5, 9, 42)));
    expect(name).toBe("export-20261203T210509042Z");
    expect(name).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/);
  });
});
