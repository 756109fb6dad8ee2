import { useMutation, useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";

import { type ApiClient, call } from "../api/client";
import { ErrorNotice, Loading, PageTitle, formatBytes, formatDate } from "../components/common";
import {
  EMPTY_FIELDS,
  type ExportFormat,
  exportOptions,
  exportSnapshotName,
  FORMATS,
  formatSpec,
  isLive,
  type OptionFields,
  progressOf,
} from "../exports/options";
import { DatasetSelect, QueryField, takeSnapshot, useSliceChoice } from "../components/SliceFields";
import { keys } from "../hooks/keys";
import { useRefresh } from "../hooks/refresh";
import { useExports, useSnapshots } from "../hooks/snapshots";
import { useApi } from "../services";

type ExportRow = NonNullable<ReturnType<typeof useExports>["data"]>["exports"][number];

/** Wait for a snapshot too large to take within the request (pending) to be built; the ready snapshot. */
async function readySnapshot(api: ApiClient, project: string, name: string) {
  for (;;) {
    const s = await call(
      api.GET("/api/v1/projects/{project_string_id}/snapshots/{snapshot_ref}", {
        params: { path: { project_string_id: project, snapshot_ref: name } },
      }),
    );
    if (s.status === "ready") {
      return s;
    }
    if (s.status === "failed") {
      throw new Error(`snapshot ${name} failed: ${s.status_reason ?? "no reason given"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** A completed export's link: its presigned URL is minted per read and short-lived, so it is read again. */
function DownloadLink({ project, job }: { project: string; job: ExportRow }) {
  const api = useApi();
  const found = useQuery({
    queryKey: keys.export(project, job.export_id),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/exports/{export_id}", {
          params: { path: { project_string_id: project, export_id: job.export_id } },
        }),
      ),
    staleTime: 5 * 60_000,
    refetchInterval: 10 * 60_000,
  });
  if (!found.data?.download_url) {
    return <ErrorNotice error={found.error} />;
  }
  return (
    <a href={found.data.download_url} download={found.data.file_name}>
      Download {found.data.file_name}
    </a>
  );
}

function OptionInputs({
  format,
  fields,
  set,
}: {
  format: ExportFormat;
  fields: OptionFields;
  set: (change: Partial<OptionFields>) => void;
}) {
  const taken = formatSpec(format).options;
  return (
    <>
      {taken.includes("every_n_frames") ? (
        <label>
          Video frames: every Nth (empty: the annotated frames)
          <input value={fields.everyNFrames} onChange={(e) => set({ everyNFrames: e.target.value })} inputMode="numeric" />
        </label>
      ) : null}
      {taken.includes("split") ? (
        <fieldset>
          <legend>Train/val split</legend>
          <label className="check">
            <input type="checkbox" checked={fields.split} onChange={(e) => set({ split: e.target.checked })} />
            Split into subsets (by a hash of each file id)
          </label>
          {fields.split ? (
            <div className="row">
              <label>
                train
                <input value={fields.train} onChange={(e) => set({ train: e.target.value })} />
              </label>
              <label>
                val
                <input value={fields.val} onChange={(e) => set({ val: e.target.value })} />
              </label>
              <label>
                test (optional)
                <input value={fields.test} onChange={(e) => set({ test: e.target.value })} />
              </label>
              <label>
                seed
                <input value={fields.seed} onChange={(e) => set({ seed: e.target.value })} placeholder="0" />
              </label>
            </div>
          ) : null}
        </fieldset>
      ) : null}
      {taken.includes("references") ? (
        <label className="check">
          <input
            type="checkbox"
            checked={fields.references}
            onChange={(e) => set({ references: e.target.checked })}
          />
          Name each image by its S3 URI (s3://bucket/key of the original)
        </label>
      ) : null}
      {taken.includes("shard_bytes") ? (
        <label>
          Largest shard in MiB (empty: 64)
          <input value={fields.shardMiB} onChange={(e) => set({ shardMiB: e.target.value })} inputMode="numeric" />
        </label>
      ) : null}
    </>
  );
}

export function Exports() {
  const api = useApi();
  const refresh = useRefresh();
  const project = useParams().project ?? "";
  const [search] = useSearchParams();
  const exportsQuery = useExports(project);
  const snapshots = useSnapshots(project);
  const slice = useSliceChoice(project);
  const [source, setSource] = useState<"snapshot" | "dataset">("snapshot");
  const [snapshot, setSnapshot] = useState(search.get("snapshot") ?? "");
  const [format, setFormat] = useState<ExportFormat>("coco");
  const [fields, setFields] = useState<OptionFields>(EMPTY_FIELDS);
  const ready = snapshots.data?.snapshots.filter((s) => s.status === "ready") ?? [];
  const chosenSnapshot = snapshot || ready[0]?.name || "";

  const create = useMutation({
    mutationFn: async () => {
      let ref = chosenSnapshot;
      if (source === "dataset") {
        const taken = await takeSnapshot(api, project, slice, exportSnapshotName(new Date()));
        ref = (taken.status === "ready" ? taken : await readySnapshot(api, project, taken.name)).name;
      }
      return call(
        api.POST("/api/v1/projects/{project_string_id}/snapshots/{snapshot_ref}/exports", {
          params: { path: { project_string_id: project, snapshot_ref: ref } },
          body: { format, options: exportOptions(format, fields) },
        }),
      );
    },
    onSuccess: async () => {
      await Promise.all([refresh(keys.exports(project)), refresh(keys.snapshots(project))]);
    },
  });
  const cancel = useMutation({
    mutationFn: (exportId: string) =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/exports/{export_id}/cancel", {
          params: { path: { project_string_id: project, export_id: exportId } },
        }),
      ),
    onSettled: () => refresh(keys.exports(project)),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }

  const rows = exportsQuery.data?.exports ?? [];
  return (
    <section>
      <PageTitle actions={<Link to={`/p/${project}/snapshots`}>Snapshots</Link>}>Exports</PageTitle>
      <form className="card" onSubmit={submit} aria-label="New export">
        <h2>New export</h2>
        <fieldset>
          <legend>Export</legend>
          <label className="check">
            <input type="radio" checked={source === "snapshot"} onChange={() => setSource("snapshot")} />a snapshot
          </label>
          <label className="check">
            <input type="radio" checked={source === "dataset"} onChange={() => setSource("dataset")} />a dataset and
            query (a snapshot is taken first)
          </label>
        </fieldset>
        {source === "snapshot" ? (
          <label>
            Snapshot
            <select value={chosenSnapshot} onChange={(e) => setSnapshot(e.target.value)}>
              {ready.map((s) => (
                <option key={s.name} value={s.name}>
                  {s.name} ({s.count} files)
                </option>
              ))}
            </select>
          </label>
        ) : (
          <div className="row">
            <DatasetSelect choice={slice} />
            <QueryField choice={slice} />
          </div>
        )}
        <label>
          Format
          <select value={format} onChange={(e) => setFormat(e.target.value as ExportFormat)}>
            {FORMATS.map((f) => (
              <option key={f.format} value={f.format}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <p className="hint">Download: {formatSpec(format).output}.</p>
        <OptionInputs format={format} fields={fields} set={(change) => setFields({ ...fields, ...change })} />
        <button
          type="submit"
          className="primary"
          disabled={create.isPending || (source === "snapshot" ? !chosenSnapshot : !slice.dataset)}
        >
          Start export
        </button>
        <ErrorNotice error={create.error} />
      </form>
      {exportsQuery.isPending ? <Loading what="exports" /> : null}
      <ErrorNotice error={exportsQuery.error} />
      <ErrorNotice error={cancel.error} title="Cancel" />
      {exportsQuery.data && rows.length === 0 ? <p>No exports yet.</p> : null}
      {rows.length > 0 ? (
        <table className="table" aria-label="Exports">
          <thead>
            <tr>
              <th>Snapshot</th>
              <th>Format</th>
              <th>Status</th>
              <th>Progress</th>
              <th>Size</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((job) => {
              const progress = progressOf(job);
              return (
                <tr key={job.export_id} data-export-id={job.export_id}>
                  <td>
                    <Link to={`/p/${project}/snapshots/${encodeURIComponent(job.snapshot)}`}>{job.snapshot}</Link>
                  </td>
                  <td>
                    {job.format}
                    {Object.keys(job.options).length > 0 ? <code> {JSON.stringify(job.options)}</code> : null}
                  </td>
                  <td>
                    <span className={`status ${job.status}`}>{job.status}</span>
                    {job.status_reason ? <div className="hint">{job.status_reason}</div> : null}
                  </td>
                  <td>
                    <progress value={progress.fraction} max={1} aria-label={`Progress of ${job.export_id}`} />{" "}
                    {progress.text}
                  </td>
                  <td>{job.size_bytes == null ? "—" : formatBytes(job.size_bytes)}</td>
                  <td>{formatDate(job.created_at)}</td>
                  <td>
                    {isLive(job.status) ? (
                      <button type="button" disabled={cancel.isPending} onClick={() => cancel.mutate(job.export_id)}>
                        Cancel
                      </button>
                    ) : null}
                    {job.status === "completed" ? <DownloadLink project={project} job={job} /> : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
