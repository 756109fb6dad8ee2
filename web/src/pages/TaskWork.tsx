import { useMutation } from "@tanstack/react-query";
import { type ReactNode, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { call } from "../api/client";
import type { TaskDetail } from "../api/types";
import { ErrorNotice, Loading, formatDate } from "../components/common";
import { Editor, type Layer } from "../editor/Editor";
import { type Shape, fromPacket, toPacket } from "../editor/instances";
import { useNextTask, useTask } from "../hooks/jobs";
import { keys } from "../hooks/keys";
import { useSchema } from "../hooks/project";
import { useRefresh } from "../hooks/refresh";
import { useApi } from "../services";

/** A task: the editor in task mode (annotate: submit moves on to the next task) or the review screen. */
export function TaskWork() {
  const params = useParams();
  const project = params.project ?? "";
  const detail = useTask(project, params.taskId ?? "");
  const schema = useSchema(project);
  if (detail.isPending || schema.isPending) return <Loading what="the task" />;
  if (detail.error || schema.error) return <ErrorNotice error={detail.error ?? schema.error} />;
  const labels = detail.data.job.label_names.length
    ? schema.data.labels.filter((l) => detail.data.job.label_names.includes(l.name))
    : schema.data.labels;
  const common = { project, detail: detail.data, labels, attributeGroups: schema.data.attribute_groups };
  return detail.data.task.kind === "review" ? <Review {...common} /> : <Annotate {...common} />;
}

interface WorkProps {
  project: string;
  detail: TaskDetail;
  labels: Parameters<typeof Editor>[0]["labels"];
  attributeGroups: Parameters<typeof Editor>[0]["attributeGroups"];
}

function useMoveOn(project: string, detail: TaskDetail) {
  const navigate = useNavigate();
  const refresh = useRefresh();
  const next = useNextTask(project);
  return {
    pending: next.isPending,
    error: next.error,
    go: () =>
      next.mutate(
        { jobId: detail.task.job_id, kind: detail.task.kind },
        {
          onSuccess: ({ task }) => {
            void refresh(keys.jobStats(project, detail.task.job_id));
            if (task && task.task_id !== detail.task.task_id) navigate(`/p/${project}/tasks/${task.task_id}`);
            else navigate(`/p/${project}/tasks?done=${detail.task.kind}`);
          },
        },
      ),
  };
}

function TaskHeader({ detail, children }: { detail: TaskDetail; children?: ReactNode }) {
  const { task, job, file } = detail;
  return (
    <div className="task-head">
      <div>
        <h1>
          {task.kind === "review" ? "Review" : "Label"}: {file.original_name}
        </h1>
        <p className="hint">
          Job {job.name} · task {task.task_id} · round {task.round + 1}
          {task.claimed_at ? ` · claimed ${formatDate(task.claimed_at)}` : ""}
          {task.lease_expires_at ? ` · held until ${formatDate(task.lease_expires_at)}` : ""}
        </p>
        {job.instructions ? <blockquote className="instructions">{job.instructions}</blockquote> : null}
      </div>
      {children}
    </div>
  );
}

function Annotate({ project, detail, labels, attributeGroups }: WorkProps) {
  const api = useApi();
  const navigate = useNavigate();
  const moveOn = useMoveOn(project, detail);
  const initial = useMemo(() => detail.instance_list.map((i) => fromPacket(i)), [detail]);
  const finished = detail.task.status === "submitted" || detail.task.status === "cancelled";
  const submit = useMutation({
    mutationFn: (shapes: Shape[]) =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/tasks/{task_id}/submit", {
          params: { path: { project_string_id: project, task_id: detail.task.task_id } },
          body: { instance_list: shapes.map(toPacket), version: detail.version },
        }),
      ),
    onSuccess: () => moveOn.go(),
  });
  const release = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/tasks/{task_id}/release", {
          params: { path: { project_string_id: project, task_id: detail.task.task_id } },
        }),
      ),
    onSuccess: () => navigate(`/p/${project}/tasks`),
  });
  return (
    <section className="task-work">
      <TaskHeader detail={detail}>
        {!finished ? (
          <button type="button" onClick={() => release.mutate()} disabled={release.isPending}>
            Give back
          </button>
        ) : null}
      </TaskHeader>
      {detail.task.comment ? (
        <div className="notice warn review-comment" role="alert">
          <strong>Changes requested by the reviewer:</strong> {detail.task.comment}
        </div>
      ) : null}
      {finished ? (
        <p className="notice" role="status">
          This task is {detail.task.status}. <Link to={`/p/${project}/tasks`}>Back to the queue</Link>
        </p>
      ) : null}
      <ErrorNotice error={submit.error ?? release.error ?? moveOn.error} title="Not submitted" />
      <Editor
        imageUrl={detail.file.media_url}
        imageSize={{ width: detail.file.width ?? 0, height: detail.file.height ?? 0 }}
        labels={labels}
        attributeGroups={attributeGroups}
        initial={initial}
        resetKey={`${detail.task.task_id}-${detail.version}`}
        readOnly={finished}
        primary={
          finished
            ? undefined
            : { label: "Submit", busy: submit.isPending || moveOn.pending, run: (shapes) => submit.mutate(shapes) }
        }
      />
    </section>
  );
}

function Review({ project, detail, labels, attributeGroups }: WorkProps) {
  const api = useApi();
  const moveOn = useMoveOn(project, detail);
  const [comment, setComment] = useState("");
  const initial = useMemo(() => detail.instance_list.map((i) => fromPacket(i)), [detail]);
  const consensus = detail.job.consensus > 1;
  const layers: Layer[] = useMemo(
    () =>
      consensus
        ? detail.submissions.map((s, i) => ({
            id: s.task_id,
            title: `${s.annotator ?? `annotator ${i + 1}`}${s.round > 0 ? ` (round ${s.round + 1})` : ""}`,
            shapes: s.instance_list.map((inst) => fromPacket(inst)),
          }))
        : [],
    [detail, consensus],
  );
  const finished = detail.task.status === "submitted" || detail.task.status === "cancelled";
  const review = useMutation({
    mutationFn: (decision: "approve" | "request_changes") =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/tasks/{task_id}/review", {
          params: { path: { project_string_id: project, task_id: detail.task.task_id } },
          body: { decision, comment },
        }),
      ),
    onSuccess: () => moveOn.go(),
  });
  const authors = detail.task.authors.map((a) => a.replace(/^user:/, "")).join(", ");
  return (
    <section className="task-work">
      <TaskHeader detail={detail} />
      <p className="hint">
        {consensus
          ? `The consolidated result of ${detail.submissions.length} annotators (agreement ${
              detail.agreement === null ? "—" : `${Math.round(detail.agreement * 100)}%`
            }); tick an annotator under Compare to see their version.`
          : `Work of ${authors || "the annotator"}.`}
      </p>
      <ErrorNotice error={review.error ?? moveOn.error} title="Not sent" />
      <div className="review-layout">
        <Editor
          imageUrl={detail.file.media_url}
          imageSize={{ width: detail.file.width ?? 0, height: detail.file.height ?? 0 }}
          labels={labels}
          attributeGroups={attributeGroups}
          initial={initial}
          resetKey={`${detail.task.task_id}-${detail.version}`}
          readOnly
          layers={layers}
        />
        <form
          className="card review-form"
          aria-label="Review decision"
          onSubmit={(event) => {
            event.preventDefault();
            review.mutate("approve");
          }}
        >
          <label>
            Comment for the annotator
            <textarea
              rows={4}
              value={comment}
              onChange={(e) => setComment(e.target.value)}
              placeholder="What should change? (required to request changes)"
              disabled={finished}
            />
          </label>
          <div className="actions">
            <button type="submit" className="primary" disabled={finished || review.isPending || moveOn.pending}>
              Approve
            </button>
            <button
              type="button"
              disabled={finished || review.isPending || moveOn.pending || comment.trim() === ""}
              onClick={() => review.mutate("request_changes")}
            >
              Request changes
            </button>
          </div>
        </form>
      </div>
    </section>
  );
}
