/** Reads of jobs and tasks, and pulling the next task. */
import { useMutation, useQuery } from "@tanstack/react-query";

import { call } from "../api/client";
import type { TaskKind } from "../api/types";
import { useApi } from "../services";
import { keys } from "./keys";

/** How often a running job's statistics and tasks are read again. */
const LIVE_MS = 5000;

export function useJobs(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.jobs(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/jobs", { params: { path: { project_string_id: project } } })),
  });
}

export function useJob(project: string, jobId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.job(project, jobId),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/jobs/{job_id}", {
          params: { path: { project_string_id: project, job_id: jobId } },
        }),
      ),
  });
}

/** The job's progress; `live` (an active job): read again every few seconds. */
export function useJobStats(project: string, jobId: string, live: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: keys.jobStats(project, jobId),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/jobs/{job_id}/stats", {
          params: { path: { project_string_id: project, job_id: jobId } },
        }),
      ),
    refetchInterval: live ? LIVE_MS : false,
    staleTime: 0,
  });
}

/** The job's first 100 tasks, of one kind or ("") all; `live` as for useJobStats. */
export function useJobTasks(project: string, jobId: string, kind: TaskKind | "", live: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: keys.jobTasks(project, jobId, kind),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/jobs/{job_id}/tasks", {
          params: { path: { project_string_id: project, job_id: jobId }, query: { limit: 100, ...(kind ? { kind } : {}) } },
        }),
      ),
    refetchInterval: live ? LIVE_MS : false,
    staleTime: 0,
  });
}

/** A task with its file, job and instances; read once (never again under the person's work). */
export function useTask(project: string, taskId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.task(project, taskId),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/tasks/{task_id}", {
          params: { path: { project_string_id: project, task_id: taskId } },
        }),
      ),
    staleTime: Infinity,
  });
}

/** Pull the caller's next task (their task in progress first). */
export function useNextTask(project: string) {
  const api = useApi();
  return useMutation({
    mutationFn: ({ jobId, kind }: { jobId: string | null; kind: TaskKind | null }) =>
      call(
        api.POST("/api/v1/projects/{project_string_id}/tasks/next", {
          params: { path: { project_string_id: project } },
          body: { job_id: jobId, kind },
        }),
      ),
  });
}
