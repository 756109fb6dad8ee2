import { type DragEvent, useCallback, useEffect, useReducer, useRef, useState } from "react";
import { Link, useParams } from "react-router";

import { call } from "../api/client";
import { ErrorNotice, Loading, PageTitle, errorMessage, formatBytes, formatDate } from "../components/common";
import { useImport, useImports, useQuarantinedFiles } from "../hooks/files";
import { keys } from "../hooks/keys";
import { useRefresh } from "../hooks/refresh";
import { useApi } from "../services";
import { importStatus } from "../upload/imports";
import { FINISHED, type UploadItem, type UploadPhase, contentTypeOf, postForm, sleep } from "../upload/uploader";

const PARALLEL = 3;
const POLL_MS = 800;
const POLL_LIMIT_MS = 180_000;

type Action =
  | { type: "add"; files: File[] }
  | { type: "update"; key: string; change: Partial<UploadItem> }
  | { type: "clear" };

let counter = 0;

function reducer(items: UploadItem[], action: Action): UploadItem[] {
  switch (action.type) {
    case "add":
      return [
        ...items,
        ...action.files.map((file) => ({
          key: `u${(counter += 1)}`,
          file,
          phase: "queued" as UploadPhase,
          progress: 0,
          message: null,
          uploadId: null,
          fileId: null,
        })),
      ];
    case "update":
      return items.map((item) => (item.key === action.key ? { ...item, ...action.change } : item));
    case "clear":
      return items.filter((item) => !FINISHED.has(item.phase));
  }
}

const PHASE_TEXT: Record<UploadPhase, string> = {
  queued: "Waiting",
  requesting: "Preparing",
  uploading: "Uploading",
  processing: "Processing",
  ready: "Ready",
  quarantined: "Quarantined",
  failed: "Failed",
};

export function DatasetUpload() {
  const api = useApi();
  const refresh = useRefresh();
  const params = useParams();
  const project = params.project ?? "";
  const dataset = params.dataset ?? "";
  const [items, dispatch] = useReducer(reducer, []);
  const [dragging, setDragging] = useState(false);
  const running = useRef(new Set<string>());
  const input = useRef<HTMLInputElement>(null);

  const upload = useCallback(
    async (item: UploadItem) => {
      const update = (change: Partial<UploadItem>) => dispatch({ type: "update", key: item.key, change });
      try {
        update({ phase: "requesting" });
        const path = { project_string_id: project };
        const ticket = await call(
          api.POST("/api/v1/projects/{project_string_id}/uploads", {
            params: { path },
            body: {
              dataset,
              file_name: item.file.name,
              content_type: contentTypeOf(item.file.name, item.file.type),
              size_bytes: item.file.size,
            },
          }),
        );
        update({ phase: "uploading", uploadId: ticket.upload_id });
        await postForm(ticket.url, ticket.fields, item.file, (progress) => update({ progress }));
        update({ phase: "processing" });
        const deadline = Date.now() + POLL_LIMIT_MS;
        while (Date.now() < deadline) {
          const state = await call(
            api.GET("/api/v1/projects/{project_string_id}/uploads/{upload_id}", {
              params: { path: { ...path, upload_id: ticket.upload_id } },
            }),
          );
          if (state.status === "ready" || state.status === "quarantined") {
            update({ phase: state.status, fileId: state.file_id, message: state.status_reason });
            return;
          }
          await sleep(POLL_MS);
        }
        update({ phase: "failed", message: "uploaded, but ingest did not finish in time; check the dataset later" });
      } catch (error) {
        update({ phase: "failed", message: errorMessage(error) });
      }
    },
    [api, project, dataset],
  );

  useEffect(() => {
    const active = items.filter((item) => running.current.has(item.key) && !FINISHED.has(item.phase)).length;
    const waiting = items.filter((item) => item.phase === "queued" && !running.current.has(item.key));
    for (const item of waiting.slice(0, Math.max(0, PARALLEL - active))) {
      running.current.add(item.key);
      void upload(item).finally(() => {
        void refresh(keys.files(project, dataset));
        void refresh(keys.quarantined(project, dataset));
      });
    }
  }, [items, upload, refresh, project, dataset]);

  function add(files: FileList | null) {
    if (files && files.length > 0) {
      dispatch({ type: "add", files: Array.from(files) });
    }
  }

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    add(event.dataTransfer.files);
  }

  const done = items.filter((item) => item.phase === "ready").length;

  return (
    <section>
      <PageTitle
        actions={<Link to={`/p/${project}/datasets/${encodeURIComponent(dataset)}`}>Explore {dataset}</Link>}
      >
        Upload to {dataset}
      </PageTitle>
      <div
        className={`dropzone${dragging ? " dragging" : ""}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        aria-label="Drop images here"
      >
        <p>Drop images here, as many as you like, or</p>
        <button type="button" className="primary" onClick={() => input.current?.click()}>
          Choose files
        </button>
        <input
          ref={input}
          type="file"
          multiple
          accept="image/*"
          className="sr-only"
          aria-label="Files to upload"
          onChange={(event) => {
            add(event.target.files);
            event.target.value = "";
          }}
        />
        <p className="hint">JPEG, PNG, GIF, WebP, BMP or TIFF, up to 50 MB each.</p>
      </div>
      {items.length > 0 ? (
        <div className="uploads">
          <div className="uploads-head">
            <span role="status">
              {done} of {items.length} ready
            </span>
            <button type="button" onClick={() => dispatch({ type: "clear" })}>
              Clear finished
            </button>
          </div>
          <ul aria-label="Uploads">
            {items.map((item) => (
              <li key={item.key} className={`upload ${item.phase}`} aria-label={item.file.name}>
                <span className="name">{item.file.name}</span>
                <span className="size">{formatBytes(item.file.size)}</span>
                <progress
                  max={1}
                  value={item.phase === "uploading" ? item.progress : FINISHED.has(item.phase) ? 1 : undefined}
                  aria-label={`Progress of ${item.file.name}`}
                />
                <span className="phase">{PHASE_TEXT[item.phase]}</span>
                {item.message ? <span className="message">{item.message}</span> : null}
                {item.phase === "ready" && item.fileId ? (
                  <Link to={`/p/${project}/files/${item.fileId}`}>Open</Link>
                ) : null}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <Quarantined project={project} dataset={dataset} />
      <Imports project={project} dataset={dataset} />
    </section>
  );
}

/** Bulk imports (COCO, YOLO, JSONL) into this dataset: progress while they run, and why items failed. */
function Imports({ project, dataset }: { project: string; dataset: string }) {
  const list = useImports(project, dataset);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section aria-labelledby="imports-title">
      <h2 id="imports-title">Imports</h2>
      {list.isPending ? <Loading what="imports" /> : null}
      <ErrorNotice error={list.error} />
      {list.data && list.data.imports.length === 0 ? (
        <p>No bulk imports into this dataset yet (the SDK and CLI start them: annolake import coco FILE).</p>
      ) : null}
      {list.data && list.data.imports.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th>Import</th>
              <th>Status</th>
              <th>Progress</th>
              <th>Failed</th>
              <th>Started</th>
            </tr>
          </thead>
          <tbody>
            {list.data.imports.map((job) => (
              <tr key={job.import_id}>
                <td>
                  {job.format.toUpperCase()} <code>{job.import_id}</code>
                </td>
                <td>
                  {importStatus(job)}
                  {job.status_reason ? <span className="message"> — {job.status_reason}</span> : null}
                </td>
                <td>
                  <progress
                    max={Math.max(job.total, 1)}
                    value={job.done + job.failed}
                    aria-label={`import ${job.import_id}: ${job.done + job.failed} of ${job.total} items`}
                  />{" "}
                  {job.done + job.failed} / {job.total}
                </td>
                <td>
                  {job.failed > 0 ? (
                    <button
                      type="button"
                      className="link"
                      aria-expanded={open === job.import_id}
                      onClick={() => setOpen(open === job.import_id ? null : job.import_id)}
                    >
                      {job.failed} failed: {open === job.import_id ? "hide" : "show"} reasons
                    </button>
                  ) : (
                    "0"
                  )}
                </td>
                <td>{formatDate(job.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {open ? <ImportFailures project={project} importId={open} /> : null}
    </section>
  );
}

function ImportFailures({ project, importId }: { project: string; importId: string }) {
  const detail = useImport(project, importId);
  return (
    <div aria-label={`failed items of import ${importId}`}>
      {detail.isPending ? <Loading what="failed items" /> : null}
      <ErrorNotice error={detail.error} />
      {detail.data ? (
        <table className="table">
          <thead>
            <tr>
              <th>Item</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {detail.data.failures.map((failure) => (
              <tr key={failure.index}>
                <td>{failure.name}</td>
                <td>{failure.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function Quarantined({ project, dataset }: { project: string; dataset: string }) {
  const files = useQuarantinedFiles(project, dataset);
  return (
    <section aria-labelledby="quarantine-title">
      <h2 id="quarantine-title">Quarantined files</h2>
      {files.isPending ? <Loading what="quarantined files" /> : null}
      <ErrorNotice error={files.error} />
      {files.data && files.data.files.length === 0 ? <p>None: every file of this dataset was accepted.</p> : null}
      {files.data && files.data.files.length > 0 ? (
        <table className="table">
          <thead>
            <tr>
              <th>File</th>
              <th>Reason</th>
              <th>Arrived</th>
            </tr>
          </thead>
          <tbody>
            {files.data.files.map((file) => (
              <tr key={file.file_id}>
                <td>{file.original_name}</td>
                <td>{file.status_reason}</td>
                <td>{formatDate(file.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
