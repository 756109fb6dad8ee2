import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router";

import { call } from "../api/client";
import type { TaskKind } from "../api/types";
import { ErrorNotice, Loading, PageTitle, formatDate } from "../components/common";
import { useJob, useJobStats, useJobTasks } from "../hooks/jobs";
import { keys } from "../hooks/keys";
import { useRefresh } from "../hooks/refresh";
import { useApi } from "../services";

const FILE_STATUS_ORDER = ["annotating", "reviewing", "complete", "failed"];

function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 90) return `${Math.round(value)} s`;
  return `${(value / 60).toFixed(1)} min`;
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`;
}

export function JobPage() {
  const api = useApi();
  const refresh = useRefresh();
  const params = useParams();
  const project = params.project ?? "";
  const jobId = params.jobId ?? "";
  const path = { project_string_id: project, job_id: jobId };
  const [kind, setKind] = useState<TaskKind | "">("");
  const job = useJob(project, jobId);
  const active = job.data?.status === "active";
  const stats = useJobStats(project, jobId, active);
  const tasks = useJobTasks(project, jobId, kind, active);
  const refreshJob = () => refresh(keys.job(project, jobId));
  const launch = useMutation({
    mutationFn: () => call(api.POST("/api/v1/projects/{project_string_id}/jobs/{job_id}/launch", { params: { path } })),
    onSuccess: refreshJob,
  });
  const setStatus = useMutation({
    mutationFn: (status: "active" | "paused" | "archived") =>
      call(api.PATCH("/api/v1/projects/{project_string_id}/jobs/{job_id}", { params: { path }, body: { status } })),
    onSuccess: refreshJob,
  });

  if (job.isPending) return <Loading what="the job" />;
  if (job.error) return <ErrorNotice error={job.error} />;
  const j = job.data;
  const files = stats.data?.files ?? {};
  const total = files.total ?? 0;
  const statuses = [
    ...FILE_STATUS_ORDER.filter((s) => s in files),
    ...Object.keys(files).filter((s) => s !== "total" && !FILE_STATUS_ORDER.includes(s)),
  ];

  return (
    <section className="job-page">
      <PageTitle
        actions={
          <>
            <Link to={`/p/${project}/tasks?job=${jobId}`}>Work on this job</Link>
            {j.status === "draft" ? (
              <button type="button" className="primary" onClick={() => launch.mutate()} disabled={launch.isPending}>
                Launch
              </button>
            ) : null}
            {j.status === "active" ? (
              <button type="button" onClick={() => setStatus.mutate("paused")}>
                Pause
              </button>
            ) : null}
            {j.status === "paused" ? (
              <button type="button" onClick={() => setStatus.mutate("active")}>
                Resume
              </button>
            ) : null}
            {j.status !== "archived" ? (
              <button type="button" onClick={() => setStatus.mutate("archived")}>
                Archive
              </button>
            ) : null}
          </>
        }
      >
        {j.name} <span className={`status ${j.status}`}>{j.status}</span>
      </PageTitle>
      <ErrorNotice error={launch.error ?? setStatus.error ?? stats.error} />
      <p className="hint">
        Datasets {j.datasets.join(", ")} · {Math.round(j.review_rate * 100)}% reviewed · {j.consensus} annotator
        {j.consensus > 1 ? "s" : ""} per file · created {formatDate(j.created_at)} by {j.created_by}
        {j.launch_status ? ` · launch ${j.launch_status}` : ""}
      </p>
      {j.instructions ? <blockquote className="instructions">{j.instructions}</blockquote> : null}

      <h2>Progress</h2>
      {stats.data ? (
        <>
          <div className="progress-bar" role="img" aria-label={`Files by status: ${statuses.map((s) => `${s} ${files[s]}`).join(", ")}`}>
            {statuses.map((s) => (
              <span key={s} className={`segment ${s}`} style={{ flexGrow: files[s] ?? 0 }} title={`${s}: ${files[s]}`} />
            ))}
          </div>
          <table className="table compact" aria-label="Files by status">
            <tbody>
              <tr>
                <th scope="row">Files</th>
                <td>{total}</td>
              </tr>
              {statuses.map((s) => (
                <tr key={s}>
                  <th scope="row">{s}</th>
                  <td>{files[s]}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Tasks</h3>
          <table className="table compact" aria-label="Tasks by kind and status">
            <thead>
              <tr>
                <th>Kind</th>
                {["available", "reserved", "in_progress", "submitted", "cancelled"].map((s) => (
                  <th key={s}>{s.replace("_", " ")}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {Object.entries(stats.data.tasks).map(([taskKind, counts]) => (
                <tr key={taskKind}>
                  <th scope="row">{taskKind}</th>
                  {["available", "reserved", "in_progress", "submitted", "cancelled"].map((s) => (
                    <td key={s}>{counts[s] ?? 0}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <div className="stats-row">
            <div>
              <h3>Annotators</h3>
              {stats.data.annotators.length === 0 ? <p className="hint">No submissions yet.</p> : null}
              <table className="table compact" aria-label="Per annotator">
                <thead>
                  <tr>
                    <th>Annotator</th>
                    <th>Submitted</th>
                    <th>Time spent</th>
                    <th>Per task</th>
                  </tr>
                </thead>
                <tbody>
                  {stats.data.annotators.map((a) => (
                    <tr key={a.principal}>
                      <td>{a.principal}</td>
                      <td>{a.submitted}</td>
                      <td>{seconds(a.time_spent_seconds)}</td>
                      <td>{seconds(a.mean_seconds_per_task)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div>
              <h3>Review</h3>
              <dl className="facts">
                <dt>Reviewed</dt>
                <dd>{stats.data.review.reviewed}</dd>
                <dt>Approved</dt>
                <dd>{stats.data.review.approved}</dd>
                <dt>Changes requested</dt>
                <dd>{stats.data.review.changes_requested}</dd>
                <dt>Rejection rate</dt>
                <dd>{percent(stats.data.review.rejection_rate)}</dd>
                <dt>Consensus agreement (mean / min)</dt>
                <dd>
                  {percent(stats.data.consensus.mean_agreement)} / {percent(stats.data.consensus.min_agreement)}
                </dd>
              </dl>
            </div>
          </div>
        </>
      ) : (
        <Loading what="statistics" />
      )}

      <h2>Tasks</h2>
      <label className="inline">
        Kind{" "}
        <select value={kind} onChange={(e) => setKind(e.target.value as TaskKind | "")}>
          <option value="">all</option>
          <option value="annotate">annotate</option>
          <option value="review">review</option>
        </select>
      </label>
      <ErrorNotice error={tasks.error} />
      {tasks.data ? (
        <table className="table compact" aria-label="Tasks">
          <thead>
            <tr>
              <th>Task</th>
              <th>Kind</th>
              <th>Round</th>
              <th>Status</th>
              <th>Assignee</th>
              <th>Submitted</th>
            </tr>
          </thead>
          <tbody>
            {tasks.data.tasks.map((t) => (
              <tr key={t.task_id}>
                <td>
                  <Link to={`/p/${project}/files/${t.file_id}`}>{t.task_id}</Link>
                </td>
                <td>{t.kind}</td>
                <td>{t.round}</td>
                <td>{t.status.replace("_", " ")}</td>
                <td>{t.assignee ?? t.reserved_for ?? "—"}</td>
                <td>{formatDate(t.submitted_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
