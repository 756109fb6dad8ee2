/**
 * The query keys of every resource the pages read, in one place: a page's query and the writes that change
 * what it shows name the same key. A key given fewer parts is a prefix: re-reading it re-reads every query
 * under it (e.g. the file lists of all of a project's datasets and queries).
 */
import type { QueryKey } from "@tanstack/react-query";

/** `parts` up to the first one left out. */
function prefix(...parts: (string | undefined)[]): QueryKey {
  const end = parts.indexOf(undefined);
  return end === -1 ? parts : parts.slice(0, end);
}

export const keys = {
  projects: () => ["projects"],
  datasets: (project: string) => ["datasets", project],
  schema: (project: string) => ["schema", project],
  members: (project: string) => ["members", project],
  apiKeys: (project: string) => ["api-keys", project],
  webhooks: (project: string) => ["webhooks", project],
  webhookFailures: (project: string, webhookId: string | null) => ["webhook-failures", project, webhookId],

  models: (project: string) => ["models", project],
  /** the project's runs; one run, its evaluation and its files sit under the run's own key */
  runs: (project: string) => ["runs", project],
  run: (project: string, runId: string) => ["run", project, runId],
  evaluation: (project: string, runId: string) => ["run", project, runId, "evaluation"],
  evaluationFiles: (project: string, runId: string, offset: number) => ["run", project, runId, "evaluation-files", offset],
  prediction: (project: string, runId: string, fileId: string) => ["prediction", project, runId, fileId],

  /** a dataset's (or a query's) file count */
  fileCount: (project: string, dataset: string, q: string) => ["count", project, dataset, q],
  /** the explorer's pages of files (with `model`'s predictions, when named) */
  files: (project: string, dataset?: string, q?: string, model?: string) => prefix("files", project, dataset, q, model),
  labelCounts: (project: string, dataset?: string, q?: string) => prefix("label-counts", project, dataset, q),
  quarantined: (project: string, dataset: string) => ["quarantined", project, dataset],
  imports: (project: string, dataset: string) => ["imports", project, dataset],
  import: (project: string, importId: string) => ["import", project, importId],
  file: (project: string, fileId: string) => ["file", project, fileId],
  annotations: (project: string, fileId: string) => ["annotations", project, fileId],
  annotationHistory: (project: string, fileId: string) => ["annotation-history", project, fileId],

  jobs: (project: string) => ["jobs", project],
  job: (project: string, jobId: string) => ["job", project, jobId],
  jobStats: (project: string, jobId: string) => ["job-stats", project, jobId],
  jobTasks: (project: string, jobId: string, kind: string) => ["job-tasks", project, jobId, kind],
  task: (project: string, taskId: string) => ["task", project, taskId],

  snapshots: (project: string) => ["snapshots", project],
  snapshot: (project: string, ref: string) => ["snapshot", project, ref],
  snapshotDiff: (project: string, a: string, b: string) => ["snapshot-diff", project, a, b],
  exports: (project: string) => ["exports", project],
  /** one export with its download URL (under the list: re-reading the list re-reads it) */
  export: (project: string, exportId: string) => ["exports", project, exportId],
} satisfies Record<string, (...args: never[]) => QueryKey>;
