import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { ErrorNotice, Loading, PageTitle, formatBytes, formatDate } from "../components/common";
import { DatasetSelect, QueryField, takeSnapshot, useSliceChoice } from "../components/SliceFields";
import { keys } from "../hooks/keys";
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
  const slice = useSliceChoice(project);
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => takeSnapshot(api, project, slice, name.trim()),
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
          <DatasetSelect choice={slice} />
        </div>
        <QueryField choice={slice} />
        <button type="submit" className="primary" disabled={create.isPending || !slice.dataset}>
          Take snapshot
        </button>
        <ErrorNotice error={create.error} />
      </form>
    </section>
  );
}
