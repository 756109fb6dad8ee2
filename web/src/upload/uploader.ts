/**
 * Browser uploads: ask the API for a presigned POST (`POST /uploads`), send the file straight to S3 with
 * progress, then follow the upload until ingest decides (`GET /uploads/{id}`: ready or quarantined).
 */

export type UploadPhase = "queued" | "requesting" | "uploading" | "processing" | "ready" | "quarantined" | "failed";

export interface UploadItem {
  key: string;
  file: File;
  phase: UploadPhase;
  /** 0..1 of the bytes sent to S3 */
  progress: number;
  message: string | null;
  uploadId: string | null;
  fileId: string | null;
}

export const FINISHED: ReadonlySet<UploadPhase> = new Set(["ready", "quarantined", "failed"]);

const TYPES_BY_EXTENSION: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  gif: "image/gif",
  webp: "image/webp",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
};

/** The browser's type for the file, or one from its extension when the browser has none. */
export function contentTypeOf(name: string, browserType: string): string {
  if (browserType) {
    return browserType;
  }
  const extension = name.split(".").pop()?.toLowerCase() ?? "";
  return TYPES_BY_EXTENSION[extension] ?? "application/octet-stream";
}

/** The human part of an S3 error document (`<Error><Code>…</Code><Message>…</Message></Error>`). */
export function s3ErrorMessage(status: number, body: string): string {
  const message = /<Message>([\s\S]*?)<\/Message>/.exec(body)?.[1];
  const code = /<Code>([\s\S]*?)<\/Code>/.exec(body)?.[1];
  if (message || code) {
    return `storage refused the file (${[code, message].filter(Boolean).join(": ")})`;
  }
  return `storage refused the file (HTTP ${status})`;
}

/** POST the form to S3 (presigned fields first, the file last), reporting progress; rejects with the reason. */
export function postForm(
  url: string,
  fields: Record<string, string>,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) {
      form.append(name, value);
    }
    form.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", url);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        onProgress(event.loaded / event.total);
      }
    });
    request.addEventListener("load", () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve();
      } else {
        reject(new Error(s3ErrorMessage(request.status, request.responseText)));
      }
    });
    request.addEventListener("error", () => reject(new Error("the upload could not reach storage")));
    request.addEventListener("abort", () => reject(new Error("the upload was cancelled")));
    request.send(form);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
