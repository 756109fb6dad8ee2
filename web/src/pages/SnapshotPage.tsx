import { useState } from "react";
import { Link, useParams } from "react-router";

import { ErrorNotice, Loading, PageTitle, formatBytes, formatDate } from "../components/common";
import { useSnapshot, useSnapshotDiff, useSnapshots } from "../hooks/snapshots";

function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

/** What changed from this snapshot to another: file counts and per-label instance deltas. */
function Diff({ project, name }: { project: string; name: string }) {
  const snapshots = useSnapshots(project);
  const [other, setOther] = useState("");
  const diff = useSnapshotDiff(project, name, other);
  const others = snapshots.data?.snapshots.filter((s) => s.name !== name && s.status === "ready") ?? [];
  return (
    <section className="card" aria-label="Diff">
      <h2>Compare</h2>
      <label>
        Changes from {name} to
        <select value={other} onChange={(e) => setOther(e.target.value)}>
          <option value="">choose a snapshot…</option>
          {others.map((s) => (
            <option key={s.name} value={s.name}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      {diff.isFetching ? <Loading what="the diff" /> : null}
      <ErrorNotice error={diff.error} />
      {diff.data ? (
        <>
          <dl className="facts" aria-label="Files changed">
            <dt>Added</dt>
            <dd>{diff.data.added}</dd>
            <dt>Removed</dt>
            <dd>{diff.data.removed}</dd>
            <dt>Changed</dt>
            <dd>{diff.data.changed}</dd>
            <dt>Unchanged</dt>
            <dd>{diff.data.unchanged}</dd>
          </dl>
          {diff.data.schema_changed ? <p className="hint">The label schema changed between them.</p> : null}
          <table className="table" aria-label="Label deltas">
            <thead>
              <tr>
                <th>Label</th>
                <th>On added files</th>
                <th>On removed files</th>
                <th>On changed files</th>
                <th>Total</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(diff.data.label_deltas).map(([label, d]) => (
                <tr key={label}>
                  <td>{label}</td>
                  <td>{signed(d.added)}</td>
                  <td>{signed(d.removed)}</td>
                  <td>{signed(d.changed)}</td>
                  <td>{signed(d.total)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}

export function SnapshotPage() {
  const params = useParams();
  const project = params.project ?? "";
  const name = params.snapshot ?? "";
  const snapshot = useSnapshot(project, name);
  const s = snapshot.data;
  const exportLink = `/p/${project}/exports?snapshot=${encodeURIComponent(name)}`;
  return (
    <section>
      <PageTitle
        actions={
          <>
            <Link to={`/p/${project}/snapshots`}>All snapshots</Link>
            {s?.status === "ready" ? <Link to={exportLink}>Export…</Link> : null}
          </>
        }
      >
        Snapshot {name}
      </PageTitle>
      {snapshot.isPending ? <Loading what="the snapshot" /> : null}
      <ErrorNotice error={snapshot.error} />
      {s ? (
        <>
          {s.status === "pending" ? (
            <p role="status">
              Building: {s.chunks_done} of {s.chunks_total} chunks read.
            </p>
          ) : null}
          {s.status === "failed" ? <div className="notice error">The build failed: {s.status_reason}</div> : null}
          <section className="card" aria-label="Lineage">
            <h2>Lineage</h2>
            <dl className="facts">
              <dt>Digest</dt>
              <dd>
                <code>{s.digest || "—"}</code>
              </dd>
              <dt>Dataset</dt>
              <dd>{s.dataset}</dd>
              <dt>Query</dt>
              <dd>{s.query ?? "every ready file"}</dd>
              <dt>Files</dt>
              <dd>{s.count}</dd>
              <dt>Schema version</dt>
              <dd>{s.schema_version}</dd>
              <dt>Manifest</dt>
              <dd>{formatBytes(s.manifest_bytes)}</dd>
              <dt>Created</dt>
              <dd>
                {formatDate(s.created_at)} by {s.created_by}
              </dd>
            </dl>
          </section>
          <div className="card">
            <h2>Labels</h2>
            {Object.keys(s.label_histogram).length === 0 ? <p>No instances.</p> : null}
            <table className="table" aria-label="Label histogram">
              <thead>
                <tr>
                  <th>Label</th>
                  <th>Files</th>
                  <th>Instances</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(s.label_histogram).map(([label, tally]) => (
                  <tr key={label}>
                    <td>{label}</td>
                    <td>{tally.files}</td>
                    <td>{tally.instances}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {s.status === "ready" ? <Diff project={project} name={name} /> : null}
        </>
      ) : null}
    </section>
  );
}
