import { useMutation } from "@tanstack/react-query";
import { Link, useParams } from "react-router";

import { call } from "../api/client";
import { ErrorNotice, Loading, PageTitle, formatDate } from "../components/common";
import { keys } from "../hooks/keys";
import { ACTIVE_RUN, type RunView, useModels, useRuns } from "../hooks/models";
import { useRefresh } from "../hooks/refresh";
import { duration } from "../models/charts";
import { useApi } from "../services";

export function Models() {
  const params = useParams();
  const project = params.project ?? "";
  const models = useModels(project);
  const runs = useRuns(project);

  return (
    <section className="models-page">
      <PageTitle>Models</PageTitle>
      <p className="hint">
        Register models and start runs with the SDK or the CLI (<code>project.model.new(…)</code>,{" "}
        <code>annolake predict</code>); follow them here.
      </p>
      <h2>Models</h2>
      <ErrorNotice error={models.error} />
      {models.isPending ? <Loading what="models" /> : null}
      {models.data?.length === 0 ? <p className="empty">No models yet.</p> : null}
      {models.data && models.data.length > 0 ? (
        <table className="table compact" aria-label="Models">
          <thead>
            <tr>
              <th>Model</th>
              <th>Version</th>
              <th>Host</th>
              <th>Format</th>
              <th>Classes</th>
              <th>Status</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {models.data.flatMap((model) =>
              [...model.versions]
                .sort((a, b) => b.version - a.version)
                .map((v) => (
                  <tr key={`${model.name}/${v.version}`} data-model={model.name}>
                    <td>{v.version === model.latest_version ? <strong>{model.name}</strong> : model.name}</td>
                    <td>v{v.version}</td>
                    <td>{v.spec.host ?? "onnx"}</td>
                    <td>{v.spec.format ?? "—"}</td>
                    <td>{v.spec.labels.join(", ")}</td>
                    <td title={v.status_reason ?? undefined}>
                      <span className={`status ${v.status}`}>{v.status.replace("_", " ")}</span>
                    </td>
                    <td>
                      {formatDate(v.created_at)} by {v.created_by}
                    </td>
                  </tr>
                )),
            )}
          </tbody>
        </table>
      ) : null}

      <h2>Runs</h2>
      <ErrorNotice error={runs.error} />
      {runs.isPending ? <Loading what="runs" /> : null}
      {runs.data?.runs.length === 0 ? <p className="empty">No runs yet.</p> : null}
      {runs.data && runs.data.runs.length > 0 ? (
        <table className="table compact" aria-label="Runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Model</th>
              <th>Dataset</th>
              <th>Status</th>
              <th>Progress</th>
              <th>Files/s</th>
              <th>ETA</th>
              <th>Started</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.data.runs.map((run) => (
              <RunRow key={run.run_id} project={project} run={run} />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** done / failed / pending of total, as a bar and in words. */
export function RunProgress({ run }: { run: RunView }) {
  const words = `${run.done} done, ${run.failed} failed, ${run.pending} pending of ${run.total}`;
  return (
    <span className="run-progress">
      <span className="progress-bar small" role="img" aria-label={words}>
        <span className="segment complete" style={{ flexGrow: run.done }} />
        <span className="segment failed" style={{ flexGrow: run.failed }} />
        <span className="segment pending" style={{ flexGrow: run.pending }} />
      </span>
      <span className="hint">{words}</span>
    </span>
  );
}

/** Cancel (while it predicts) and re-drive (once it stopped with files left or failed). */
export function RunActions({ project, run }: { project: string; run: RunView }) {
  const api = useApi();
  const refresh = useRefresh();
  const path = { project_string_id: project, run_id: run.run_id };
  const after = async () => {
    await Promise.all([refresh(keys.runs(project)), refresh(keys.run(project, run.run_id))]);
  };
  const cancel = useMutation({
    mutationFn: () => call(api.POST("/api/v1/projects/{project_string_id}/runs/{run_id}/cancel", { params: { path } })),
    onSuccess: after,
  });
  const redrive = useMutation({
    mutationFn: () => call(api.POST("/api/v1/projects/{project_string_id}/runs/{run_id}/redrive", { params: { path } })),
    onSuccess: after,
  });
  const active = ACTIVE_RUN.has(run.status);
  const unfinished = run.failed > 0 || run.pending > 0 || run.status === "failed" || run.status === "cancelled";
  return (
    <>
      {active ? (
        <button type="button" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
          Cancel
        </button>
      ) : null}
      {!active && unfinished ? (
        <button type="button" onClick={() => redrive.mutate()} disabled={redrive.isPending}>
          Re-drive
        </button>
      ) : null}
      <ErrorNotice error={cancel.error ?? redrive.error} />
    </>
  );
}

function RunRow({ project, run }: { project: string; run: RunView }) {
  const active = ACTIVE_RUN.has(run.status);
  return (
    <tr data-run={run.run_id}>
      <td>
        <Link to={`/p/${project}/runs/${run.run_id}`}>{run.run_id}</Link>
      </td>
      <td>
        {run.model} v{run.model_version}
      </td>
      <td title={run.query ?? undefined}>
        {run.dataset}
        {run.query ? " (query)" : ""}
      </td>
      <td title={run.status_reason ?? undefined}>
        <span className={`status ${run.status}`}>{run.status.replaceAll("_", " ")}</span>
      </td>
      <td>
        <RunProgress run={run} />
      </td>
      <td>{run.items_per_second === null ? "—" : run.items_per_second.toFixed(1)}</td>
      <td>{active ? duration(run.eta_seconds) : "—"}</td>
      <td>{formatDate(run.started_at ?? run.created_at)}</td>
      <td className="actions">
        <RunActions project={project} run={run} />
      </td>
    </tr>
  );
}
