import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";

import { call } from "../api/client";
import { ErrorNotice, Loading, PageTitle, formatDate } from "../components/common";
import { keys } from "../hooks/keys";
import { ACTIVE_RUN, useEvaluation, useEvaluationFiles, useRun } from "../hooks/models";
import { useRefresh } from "../hooks/refresh";
import { duration } from "../models/charts";
import { ApChart, PrChart } from "../models/Charts";
import { DetectionThumb } from "../models/DetectionThumb";
import { useApi } from "../services";
import { RunActions, RunProgress } from "./Models";

/** Files of the disagreement list shown at a time. */
const FILES_PAGE = 12;
const FINISHED = new Set(["completed", "completed_with_errors"]);

type Evaluation = NonNullable<ReturnType<typeof useEvaluation>["data"]>;

export function Run() {
  const params = useParams();
  const project = params.project ?? "";
  const runId = params.runId ?? "";
  const run = useRun(project, runId);
  const evaluation = useEvaluation(project, runId);

  if (run.isPending) return <Loading what="the run" />;
  if (run.error) return <ErrorNotice error={run.error} />;
  const r = run.data;
  const active = ACTIVE_RUN.has(r.status);
  return (
    <section className="run-page">
      <PageTitle actions={<RunActions project={project} run={r} />}>
        {r.model} v{r.model_version} · {r.run_id} <span className={`status ${r.status}`}>{r.status.replaceAll("_", " ")}</span>
      </PageTitle>
      <p className="hint">
        <Link to={`/p/${project}/models`}>← Models</Link> · dataset {r.dataset}
        {r.query ? ` · query ${r.query}` : ""} · threshold {r.threshold} · started {formatDate(r.started_at ?? r.created_at)} by{" "}
        {r.created_by}
        {r.finished_at ? ` · finished ${formatDate(r.finished_at)}` : ""}
      </p>
      {r.status_reason ? <p className="notice warn">{r.status_reason}</p> : null}
      <RunProgress run={r} />
      <p className="hint" role="status">
        {r.items_per_second === null ? "" : `${r.items_per_second.toFixed(1)} files/s`}
        {active ? ` · ETA ${duration(r.eta_seconds)}` : ""}
      </p>
      {r.failures.length > 0 ? (
        <details className="failures">
          <summary>Failed files ({r.failed})</summary>
          <ul>
            {r.failures.map((f) => (
              <li key={f.file_id}>
                <Link to={`/p/${project}/files/${f.file_id}`}>{f.file_id}</Link>: {f.reason ?? "no reason given"}
              </li>
            ))}
          </ul>
        </details>
      ) : null}

      <h2>Evaluation</h2>
      <ErrorNotice error={evaluation.error} />
      {evaluation.isPending ? <Loading what="the evaluation" /> : null}
      {FINISHED.has(r.status) && !evaluation.isPending ? (
        <EvaluateForm project={project} runId={runId} again={evaluation.data?.status === "completed"} />
      ) : null}
      {!FINISHED.has(r.status) && !evaluation.data ? <p className="hint">A run can be evaluated once it has finished.</p> : null}
      {evaluation.data ? <EvaluationReport project={project} runId={runId} evaluation={evaluation.data} /> : null}
    </section>
  );
}

function EvaluateForm({ project, runId, again }: { project: string; runId: string; again: boolean }) {
  const api = useApi();
  const refresh = useRefresh();
  const [iou, setIou] = useState(0.5);
  const evaluate = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/runs/{run_id}/evaluate", {
          params: { path: { project_string_id: project, run_id: runId } },
          body: { iou },
        }),
      ),
    onSuccess: () => refresh(keys.evaluation(project, runId)),
  });
  return (
    <form
      className="inline-form"
      onSubmit={(event) => {
        event.preventDefault();
        evaluate.mutate();
      }}
    >
      <label>
        IoU threshold{" "}
        <input
          type="number"
          min={0.05}
          max={1}
          step={0.05}
          value={iou}
          onChange={(e) => setIou(Number(e.target.value))}
          required
        />
      </label>
      <button type="submit" className={again ? undefined : "primary"} disabled={evaluate.isPending}>
        {again ? "Evaluate again" : "Evaluate"}
      </button>
      <ErrorNotice error={evaluate.error} />
    </form>
  );
}

function EvaluationReport({ project, runId, evaluation }: { project: string; runId: string; evaluation: Evaluation }) {
  if (evaluation.status === "running") {
    return (
      <p className="loading" role="status">
        Evaluating at IoU {evaluation.iou}…
      </p>
    );
  }
  if (evaluation.status === "failed") {
    return <ErrorNotice error={new Error(evaluation.reason ?? "the evaluation failed")} title="Evaluation failed" />;
  }
  const totals = evaluation.totals ?? {};
  const annotators = Object.entries(evaluation.annotators ?? {});
  return (
    <div className="evaluation" data-evaluation={evaluation.evaluation_id}>
      <dl className="facts" aria-label="Evaluation summary">
        <dt>mAP @ IoU {evaluation.iou}</dt>
        <dd data-metric="map">{evaluation.mean_ap === null || evaluation.mean_ap === undefined ? "—" : evaluation.mean_ap.toFixed(3)}</dd>
        <dt>TP / FP / FN</dt>
        <dd>
          {totals.tp ?? 0} / {totals.fp ?? 0} / {totals.fn ?? 0} (scores ≥ {evaluation.score_threshold})
        </dd>
        <dt>Files</dt>
        <dd>
          {evaluation.file_count ?? 0} in {duration(evaluation.seconds)}
        </dd>
      </dl>
      <div className="stats-row">
        <div>
          <h3>AP per class</h3>
          <ApChart perClass={evaluation.per_class_ap ?? {}} />
        </div>
        {evaluation.pr_curves && Object.keys(evaluation.pr_curves).length > 0 ? (
          <div>
            <h3>Precision-recall</h3>
            <PrChart curves={evaluation.pr_curves} />
          </div>
        ) : null}
        {annotators.length > 0 ? (
          <div>
            <h3>Annotators</h3>
            <table className="table compact" aria-label="Disagreement per annotator">
              <thead>
                <tr>
                  <th>Annotator</th>
                  <th>Files</th>
                  <th>Disagreeing</th>
                  <th>Rate</th>
                  <th>Mean disagreement</th>
                </tr>
              </thead>
              <tbody>
                {annotators
                  .sort(([, a], [, b]) => b.rate - a.rate)
                  .map(([who, a]) => (
                    <tr key={who}>
                      <td>{who}</td>
                      <td>{a.files}</td>
                      <td>{a.disagreeing}</td>
                      <td>{Math.round(a.rate * 100)}%</td>
                      <td>{a.mean_disagreement.toFixed(2)}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </div>
      <DisagreementList project={project} runId={runId} evaluationId={evaluation.evaluation_id} />
    </div>
  );
}

function DisagreementList({ project, runId, evaluationId }: { project: string; runId: string; evaluationId: string }) {
  const api = useApi();
  const refresh = useRefresh();
  const [offset, setOffset] = useState(0);
  const [top, setTop] = useState(10);
  const files = useEvaluationFiles(project, runId, offset, FILES_PAGE, evaluationId);
  const review = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/runs/{run_id}/review", {
          params: { path: { project_string_id: project, run_id: runId } },
          body: { top },
        }),
      ),
    onSuccess: () => Promise.all([refresh(keys.jobs(project)), refresh(keys.datasets(project))]),
  });
  return (
    <>
      <h3>Files by disagreement with the human</h3>
      <form
        className="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          review.mutate();
        }}
      >
        <label>
          Send top{" "}
          <input type="number" min={1} max={10000} value={top} onChange={(e) => setTop(Number(e.target.value))} required />
        </label>
        <button type="submit" disabled={review.isPending}>
          Send to review
        </button>
        {review.data ? (
          <span role="status">
            {review.data.file_ids.length} files sent: <Link to={`/p/${project}/jobs/${review.data.job_id}`}>review job</Link>
          </span>
        ) : null}
        <ErrorNotice error={review.error} />
      </form>
      <p className="hint">Solid: the human's boxes; dashed: the model's.</p>
      <ErrorNotice error={files.error} />
      {files.isPending ? <Loading what="the files" /> : null}
      {files.data ? (
        <>
          <ol className="disagreements" aria-label="Files by disagreement" start={offset + 1}>
            {files.data.files.map((f) => (
              <li key={f.file_id} data-file={f.file_id}>
                <Link to={`/p/${project}/files/${f.file_id}`}>
                  <DetectionThumb project={project} runId={runId} fileId={f.file_id} />
                </Link>
                <span className="disagreement" data-disagreement={f.disagreement}>
                  {f.disagreement.toFixed(2)}
                </span>
                <span className="hint">
                  TP {f.tp} · FP {f.fp} · FN {f.fn}
                  {f.mismatches ? ` · ${f.mismatches} label mismatch${f.mismatches > 1 ? "es" : ""}` : ""}
                </span>
              </li>
            ))}
          </ol>
          <div className="pager">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - FILES_PAGE))}>
              Previous
            </button>
            <span className="hint">
              {offset + 1}–{offset + files.data.files.length} of {files.data.file_count}
            </span>
            <button
              type="button"
              disabled={files.data.next_offset === null}
              onClick={() => setOffset(files.data.next_offset ?? offset)}
            >
              Next
            </button>
          </div>
        </>
      ) : null}
    </>
  );
}
