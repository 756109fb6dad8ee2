/** Reads of models, prediction runs, their evaluation and one file's predictions. */
import { useQuery } from "@tanstack/react-query";

import { ApiError, call } from "../api/client";
import type { components } from "../api/schema";
import { useApi } from "../services";
import { keys } from "./keys";

type Schemas = components["schemas"];
export type RunView = Schemas["RunPublic"];

/** How often a running run's progress (or a running evaluation) is read again. */
const LIVE_MS = 2000;
/** Statuses of a run still predicting. */
export const ACTIVE_RUN = new Set(["queued", "running"]);

/** The answer, or null where the API answers 404 (nothing there yet). */
async function orNull<T>(request: Promise<T>): Promise<T | null> {
  try {
    return await request;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/** The project's models, each with its versions (one read per model; a project holds a handful). */
export function useModels(project: string) {
  const api = useApi();
  const path = { project_string_id: project };
  return useQuery({
    queryKey: keys.models(project),
    queryFn: async () => {
      const listed = await call(api.GET("/api/v1/projects/{project_string_id}/models", { params: { path } }));
      return Promise.all(
        listed.models.map((m) =>
          call(
            api.GET("/api/v1/projects/{project_string_id}/models/{name}", {
              params: { path: { ...path, name: m.name } },
            }),
          ),
        ),
      );
    },
  });
}

/** The project's runs, newest first (the first 100); read again while any of them is predicting. */
export function useRuns(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.runs(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/runs", { params: { path: { project_string_id: project } } })),
    refetchInterval: (query) => (query.state.data?.runs.some((r) => ACTIVE_RUN.has(r.status)) ? LIVE_MS : false),
    staleTime: 0,
  });
}

/** One run with its failures; read again while it is predicting. */
export function useRun(project: string, runId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.run(project, runId),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/runs/{run_id}", {
          params: { path: { project_string_id: project, run_id: runId } },
        }),
      ),
    refetchInterval: (query) => (query.state.data && ACTIVE_RUN.has(query.state.data.status) ? LIVE_MS : false),
    staleTime: 0,
  });
}

/** The run's last evaluation (null when it has none); read again while it runs. */
export function useEvaluation(project: string, runId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.evaluation(project, runId),
    queryFn: () =>
      orNull(
        call(
          api.GET("/api/v1/projects/{project_string_id}/runs/{run_id}/evaluation", {
            params: { path: { project_string_id: project, run_id: runId } },
          }),
        ),
      ),
    refetchInterval: (query) => (query.state.data?.status === "running" ? LIVE_MS : false),
    staleTime: 0,
  });
}

/** A page of the last evaluation's files, most disagreeing first; read once the evaluation has `completed`. */
export function useEvaluationFiles(project: string, runId: string, offset: number, limit: number, evaluationId: string | null) {
  const api = useApi();
  return useQuery({
    queryKey: [...keys.evaluationFiles(project, runId, offset), evaluationId, limit],
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/runs/{run_id}/evaluation/files", {
          params: { path: { project_string_id: project, run_id: runId }, query: { offset, limit } },
        }),
      ),
    enabled: evaluationId !== null,
  });
}

/** What the run predicted on one file (null when the file was not in the run). */
export function usePrediction(project: string, runId: string | null, fileId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.prediction(project, runId ?? "", fileId),
    queryFn: () =>
      orNull(
        call(
          api.GET("/api/v1/projects/{project_string_id}/runs/{run_id}/predictions/{file_id}", {
            params: { path: { project_string_id: project, run_id: runId ?? "", file_id: fileId } },
          }),
        ),
      ),
    enabled: runId !== null,
    staleTime: Infinity, // a file's prediction in a run never changes
  });
}
