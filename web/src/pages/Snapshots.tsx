import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { call } from "../api/client";
import { ErrorNotice, Loading, PageTitle, formatBytes, formatDate } from "../components/common";
import { keys } from "../hooks/keys";
import { useDatasets } from "../hooks/project";
import { useRefresh } from "../hooks/refresh";
import { useSnapshots } from "../hooks/snapshots";
import { useApi } from "../services";

/** A snapshot's tags: what it was taken from and what it is in. */
function tags(s: { dataset: string; query: string | null; status: string; schema_version: number }): string[] {
  return [`dataset: ${s.dataset}`, s.query ? `query: ${s.query}` : "all ready files", `schema v${s.schema_version}`];
}

export function Snapshots() {
  const api = useApi();
  const refresh = useRefresh();
  const navigate = useNavigate();
  const project = useParams().project ?? "";
  const snapshots = useSnapshots(project);
  const datasets = useDatasets(project);
  const [name, setName] = useState("");
  const [dataset, setDataset] = useState("");
  const [query, setQuery] = useState("");
  const chosen = dataset || datasets.data?.datasets[0]?.name || "";
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/datasets/{dataset_name}/snapshots", {
          params: { path: { project_string_id: project, dataset_name: chosen } },
          body: { name: name.trim(), query: query.trim() || null },
        }),
      ),
    onSuccess: async (snapshot) => {
      await refresh(keys.snapshots(project));
      navigate(`/p/${project}/snapshots/${encodeURIComponent(snapshot.name)}`);
    },
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }

  return (
    <section>
      <PageTitle actions={<Link to={`/p/${project}/exports`}>Exports</Link>}>Snapshots</PageTitle>
      {snapshots.isPending ? <Loading what="snapshots" /> : null}
      <ErrorNotice error={snapshots.error} />
      {snapshots.data && snapshots.data.snapshots.length === 0 ? <p>No snapshots yet: take one below.</p> : null}
      {snapshots.data && snapshots.data.snapshots.length > 0 ? (
        <table className="table" aria-label="Snapshots">
          <thead>
            <tr>
              <th>Snapshot</th>
              <th>Digest</th>
              <th>Files</th>
              <th>Manifest</th>
              <th>Created</th>
              <th>Tags</th>
            </tr>
          </thead>
          <tbody>
            {snapshots.data.snapshots.map((s) => (
              <tr key={s.name}>
                <td>
                  <Link to={`/p/${project}/snapshots/${encodeURIComponent(s.name)}`}>{s.name}</Link>
                  {s.status !== "ready" ? <span className={`status ${s.status}`}> {s.status}</span> : null}
                </td>
                <td>
                  <code title={s.digest}>{s.digest ? s.digest.slice(0, 12) : "—"}</code>
                </td>
                <td>{s.count}</td>
                <td>{formatBytes(s.manifest_bytes)}</td>
                <td>{formatDate(s.created_at)}</td>
                <td>
                  {tags(s).map((t) => (
                    <span key={t} className="tag">
                      {t}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <form className="card" onSubmit={submit} aria-label="New snapshot">
        <h2>New snapshot</h2>
        <p className="hint">Pins the dataset's ready files matching the query, each at its current annotation version.</p>
        <div className="row">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required />
          </label>
          <label>
            Dataset
            <select value={chosen} onChange={(e) => setDataset(e.target.value)}>
              {datasets.data?.datasets.map((d) => (
                <option key={d.dataset_id} value={d.name}>
                  {d.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <label>
          Query (empty: every ready file)
          <input value={query} onChange={(e) => setQuery(e.target.value)} placeholder="labels.car >= 1" />
        </label>
        <button type="submit" className="primary" disabled={create.isPending || !chosen}>
          Take snapshot
        </button>
        <ErrorNotice error={create.error} />
      </form>
    </section>
  );
}
