import { useMutation } from "@tanstack/react-query";
import { type ReactNode, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import { call } from "../api/client";
import type { PacketInstance, TaskDetail } from "../api/types";
import { ErrorNotice, Loading, formatDate } from "../components/common";
import { Editor, type Layer } from "../editor/Editor";
import { fromPacket, toPacket } from "../editor/instances";
import { VideoEditor } from "../editor/video/VideoEditor";
import { useNextTask, useTask } from "../hooks/jobs";
import { keys } from "../hooks/keys";
import { useSchema } from "../hooks/project";
import { useRefresh } from "../hooks/refresh";
import { useApi } from "../services";

/**
 * A task: the editor in task mode (annotate: submit moves on to the next task) or the review screen; the video
 * editor for a video, on a segment task's frames only.
 */
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

/** A segment task's frames (inclusive); null for a task over a whole file. */
function segmentOf(task: TaskDetail["task"]): { start: number; end: number } | null {
  const { frame_start: start, frame_end: end } = task;
  return start === null || start === undefined || end === null || end === undefined ? null : { start, end };
}

/** The video of a task over one (null for an image), with a segment task's frames. */
function videoOf(detail: TaskDetail) {
  const { file, task } = detail;
  return file.media_type === "video" && file.video ? { ...file.video, segment: segmentOf(task) } : null;
}

/** The task's editor: the image editor, or the video editor for a video (no comparison layers there). */
function TaskEditor({
  project,
  detail,
  labels,
  attributeGroups,
  readOnly,
  layers,
  primary,
}: WorkProps & {
  readOnly: boolean;
  layers?: Layer[];
  primary?: { label: string; busy: boolean; run: (instances: PacketInstance[]) => void };
}) {
  const initial = useMemo(() => detail.instance_list.map((i) => fromPacket(i)), [detail]);
  const resetKey = `${detail.task.task_id}-${detail.version}`;
  const size = { width: detail.file.width ?? 0, height: detail.file.height ?? 0 };
  const video = videoOf(detail);
  if (video) {
    return (
      <VideoEditor
        project={project}
        fileId={detail.file.file_id}
        frameCount={video.frame_count}
        fps={video.fps}
        size={size}
        labels={labels}
        attributeGroups={attributeGroups}
        initial={detail.instance_list}
        resetKey={resetKey}
        readOnly={readOnly}
        segment={video.segment}
        primary={primary}
      />
    );
  }
  return (
    <Editor
      imageUrl={detail.file.media_url}
      imageSize={size}
      labels={labels}
      attributeGroups={attributeGroups}
      initial={initial}
      resetKey={resetKey}
      readOnly={readOnly}
      layers={layers}
      primary={primary && { ...primary, run: (shapes) => primary.run(shapes.map(toPacket)) }}
    />
  );
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
  const segment = segmentOf(task);
  return (
    <div className="task-head">
      <div>
        <h1>
          {task.kind === "review" ? "Review" : "Label"}: {file.original_name}
        </h1>
        <p className="hint">
          Job {job.name} · task {task.task_id} · round {task.round + 1}
          {segment ? ` · frames ${segment.start}–${segment.end}` : ""}
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
  const finished = detail.task.status === "submitted" || detail.task.status === "cancelled";
  const submit = useMutation({
    mutationFn: (instances: PacketInstance[]) =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/tasks/{task_id}/submit", {
          params: { path: { project_string_id: project, task_id: detail.task.task_id } },
          body: { instance_list: instances, version: detail.version },
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
      <TaskEditor
        project={project}
        detail={detail}
        labels={labels}
        attributeGroups={attributeGroups}
        readOnly={finished}
        primary={
          finished
            ? undefined
            : { label: "Submit", busy: submit.isPending || moveOn.pending, run: (instances) => submit.mutate(instances) }
        }
      />
    </section>
  );
}

function Review({ project, detail, labels, attributeGroups }: WorkProps) {
  const api = useApi();
  const moveOn = useMoveOn(project, detail);
  const [comment, setComment] = useState("");
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
            })${videoOf(detail) ? "." : "; tick an annotator under Compare to see their version."}`
          : `Work of ${authors || "the annotator"}.`}
      </p>
      <ErrorNotice error={review.error ?? moveOn.error} title="Not sent" />
      <div className="review-layout">
        <TaskEditor
          project={project}
          detail={detail}
          labels={labels}
          attributeGroups={attributeGroups}
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
