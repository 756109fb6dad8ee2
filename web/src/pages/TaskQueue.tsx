import { useState } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";

import type { TaskKind } from "../api/types";
import { ErrorNotice, PageTitle } from "../components/common";
import { useJobs, useNextTask } from "../hooks/jobs";

export function TaskQueue() {
  const navigate = useNavigate();
  const project = useParams().project ?? "";
  const [search] = useSearchParams();
  const [jobId, setJobId] = useState<string>(search.get("job") ?? "");
  const [empty, setEmpty] = useState<TaskKind | null>(null);
  const jobs = useJobs(project);
  const next = useNextTask(project);
  const done = search.get("done");

  function start(kind: TaskKind) {
    setEmpty(null);
    next.mutate(
      { jobId: jobId || null, kind },
      {
        onSuccess: ({ task }) => {
          if (task) navigate(`/p/${project}/tasks/${task.task_id}`);
          else setEmpty(kind);
        },
      },
    );
  }

  const activeJobs = jobs.data?.jobs.filter((j) => j.status === "active") ?? [];
  return (
    <section className="task-queue">
      <PageTitle>Tasks</PageTitle>
      {done ? (
        <p className="notice ok" role="status">
          {done === "review" ? "No more reviews for you right now." : "No more tasks for you right now."} Nice work.
        </p>
      ) : null}
      <div className="card">
        <label>
          Job{" "}
          <select value={jobId} onChange={(e) => setJobId(e.target.value)}>
            <option value="">every active job</option>
            {activeJobs.map((j) => (
              <option key={j.job_id} value={j.job_id}>
                {j.name}
              </option>
            ))}
          </select>
        </label>
        <div className="actions">
          <button type="button" className="primary" onClick={() => start("annotate")} disabled={next.isPending}>
            Start labelling
          </button>
          <button type="button" onClick={() => start("review")} disabled={next.isPending}>
            Start reviewing
          </button>
        </div>
        {empty ? (
          <p role="status">
            {empty === "review" ? "No reviews are waiting for you." : "No labelling tasks are waiting for you."}{" "}
            Tasks appear when a job is launched and files arrive in its datasets.
          </p>
        ) : null}
        <ErrorNotice error={next.error} />
      </div>
    </section>
  );
}
