/**
 * Export formats and the options each takes, as the API's ExportCreate accepts them: the form shows only the
 * fields of the chosen format, and the body carries only those filled in. Values are sent as typed (numbers
 * when they read as numbers): the API checks them and its message is shown as it is given.
 */

export type ExportFormat = "coco" | "yolo" | "voc" | "sagemaker" | "jsonl" | "cvat_video" | "mot" | "packed";

export type ExportOption = "every_n_frames" | "split" | "shard_bytes" | "references";

export interface FormatSpec {
  format: ExportFormat;
  label: string;
  /** what the download holds */
  output: string;
  options: ExportOption[];
}

export const FORMATS: FormatSpec[] = [
  {
    format: "coco",
    label: "COCO",
    output: "annotations.json (images by file name)",
    options: ["every_n_frames", "references"],
  },
  { format: "yolo", label: "YOLO", output: "yolo.tar: data.yaml and labels/", options: ["split", "every_n_frames"] },
  {
    format: "voc",
    label: "Pascal VOC",
    output: "voc.tar: Annotations/*.xml and labels.txt",
    options: ["references"],
  },
  {
    format: "sagemaker",
    label: "SageMaker Ground Truth",
    output: "output.manifest (images by their s3:// reference)",
    options: [],
  },
  { format: "jsonl", label: "Annolake JSON Lines", output: "annolake.jsonl (lossless)", options: ["references"] },
  { format: "cvat_video", label: "CVAT for video", output: "cvat_video.tar (one folder a video)", options: [] },
  { format: "mot", label: "MOT", output: "mot.tar (one folder a video)", options: [] },
  { format: "packed", label: "Packed shards", output: "shards.jsonl and tar shards of media", options: ["shard_bytes"] },
];

export function formatSpec(format: ExportFormat): FormatSpec {
  const spec = FORMATS.find((f) => f.format === format);
  if (!spec) {
    throw new Error(`unknown export format ${format}`);
  }
  return spec;
}

/** What the person typed, every field as text (a field the format does not take is ignored). */
export interface OptionFields {
  everyNFrames: string;
  split: boolean;
  train: string;
  val: string;
  test: string;
  seed: string;
  shardMiB: string;
  /** name each image's original by its s3:// URI (coco_url, <path>, media.url) */
  references: boolean;
}

export const EMPTY_FIELDS: OptionFields = {
  everyNFrames: "",
  split: false,
  train: "0.8",
  val: "0.2",
  test: "",
  seed: "",
  shardMiB: "",
  references: false,
};

/** A typed value: nothing when blank, a number when it reads as one, else the text (for the API to refuse). */
function value(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") {
    return undefined;
  }
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : trimmed;
}

/** The `options` of an ExportCreate body for `format`: only the options it takes, only those filled in. */
export function exportOptions(format: ExportFormat, fields: OptionFields): Record<string, unknown> {
  const taken = formatSpec(format).options;
  const options: Record<string, unknown> = {};
  const every = value(fields.everyNFrames);
  if (taken.includes("every_n_frames") && every !== undefined) {
    options.every_n_frames = every;
  }
  if (taken.includes("split") && fields.split) {
    const shares: Record<string, unknown> = {};
    for (const [subset, text] of [
      ["train", fields.train],
      ["val", fields.val],
      ["test", fields.test],
    ] as const) {
      const share = value(text);
      if (share !== undefined) {
        shares[subset] = share;
      }
    }
    options.split = shares;
    const seed = value(fields.seed);
    if (seed !== undefined) {
      options.seed = seed;
    }
  }
  const mib = value(fields.shardMiB);
  if (taken.includes("shard_bytes") && mib !== undefined) {
    options.shard_bytes = typeof mib === "number" ? Math.round(mib * 1024 * 1024) : mib;
  }
  if (taken.includes("references") && fields.references) {
    options.references = "s3";
  }
  return options;
}

type ExportStatus = "queued" | "running" | "completed" | "failed" | "cancelled";

/** Still moving: read again until it is not. */
export function isLive(status: ExportStatus): boolean {
  return status === "queued" || status === "running";
}

/** Pages rendered, as a share (0 while nothing is planned) and as words. */
export function progressOf(job: { status: ExportStatus; pages_done: number; pages_total: number }): {
  fraction: number;
  text: string;
} {
  if (job.status === "completed") {
    return { fraction: 1, text: "done" };
  }
  if (!job.pages_total) {
    return { fraction: 0, text: job.status };
  }
  const fraction = Math.min(job.pages_done / job.pages_total, 1);
  return { fraction, text: `${job.pages_done} of ${job.pages_total} pages` };
}

/** A readable default name for a snapshot taken to export a dataset (unchanged data shares the digest). */
export function exportSnapshotName(now: Date): string {
  return `export-${now.toISOString().replace(/[-:]/g, "").replace(".", "")}`;
}
