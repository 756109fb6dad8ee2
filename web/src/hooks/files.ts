/** Reads of a dataset's files (pages, counts, label counts, quarantine, imports) and of one file's annotations. */
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";

import { call } from "../api/client";
import { useApi } from "../services";
import { keys } from "./keys";

/** Files a page of the explorer holds, at least. */
export const PAGE = 100;
/** The most files one page may ask for (the API's limit). */
export const MAX_PAGE = 1000;

/** How many files the next page asks for: a page, or, when the person has scrolled (or jumped) `wanted` files
 * in while only `loaded` are listed, enough to reach there at once (whole pages, at most `MAX_PAGE`); cursors are
 * positions in the listing, so the files are the same whatever the pages' sizes. */
export function nextPageSize(loaded: number, wanted: number): number {
  const missing = Math.ceil((wanted - loaded) / PAGE) * PAGE;
  return Math.min(MAX_PAGE, Math.max(PAGE, missing));
}
/** Presigned media and thumbnail URLs expire: what is older than this is read again. */
const URL_LIFETIME_MS = 5 * 60_000;
const IMPORT_POLL_MS = 2000;
const IMPORT_RUNNING = new Set(["queued", "running"]);

/** How many files the dataset holds, or (with a query `q`) how many match. */
export function useFileCount(project: string, dataset: string, q: string) {
  const api = useApi();
  const path = { project_string_id: project, dataset_name: dataset };
  return useQuery({
    queryKey: keys.fileCount(project, dataset, q),
    queryFn: async () =>
      q
        ? (
            await call(
              api.GET("/api/v1/projects/{project_string_id}/datasets/{dataset_name}/query", {
                params: { path, query: { q, limit: 1 } },
              }),
            )
          ).count
        : (await call(api.GET("/api/v1/projects/{project_string_id}/datasets/{dataset_name}", { params: { path } })))
            .file_count,
  });
}

/** The dataset's files (those matching `q`, if given), a page at a time; with a `model`, each carries the
 * predictions of its latest finished run (in the same pages: no read per file). `wanted()`: how many files the
 * person has scrolled to, which sizes the next page (`nextPageSize`). */
export function useFilePages(project: string, dataset: string, q: string, model = "", wanted: () => number = () => 0) {
  const api = useApi();
  return useInfiniteQuery({
    queryKey: keys.files(project, dataset, q, model),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, client, queryKey }) =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/datasets/{dataset_name}/files", {
          params: {
            path: { project_string_id: project, dataset_name: dataset },
            query: {
              limit: pageParam ? nextPageSize(loadedFiles(client.getQueryData(queryKey)), wanted()) : PAGE,
              ...(pageParam ? { cursor: pageParam } : {}),
              ...(q ? { query: q } : {}),
              ...(model ? { predictions: model } : {}),
            },
          },
        }),
      ),
    getNextPageParam: (page) => page.cursor ?? null,
    staleTime: URL_LIFETIME_MS,
  });
}

function loadedFiles(data: { pages: { files: unknown[] }[] } | undefined): number {
  return data?.pages.reduce((sum, page) => sum + page.files.length, 0) ?? 0;
}

/** Files and instances per label (of the files matching `q`, if given); read only once `enabled`. */
export function useLabelCounts(project: string, dataset: string, q: string, enabled: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: keys.labelCounts(project, dataset, q),
    enabled,
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/datasets/{dataset_name}/label-counts", {
          params: { path: { project_string_id: project, dataset_name: dataset }, query: q ? { query: q } : {} },
        }),
      ),
  });
}

/** The dataset's refused files (the first 200), with why. */
export function useQuarantinedFiles(project: string, dataset: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.quarantined(project, dataset),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/datasets/{dataset_name}/files", {
          params: {
            path: { project_string_id: project, dataset_name: dataset },
            query: { status: "quarantined", limit: 200 },
          },
        }),
      ),
  });
}

/** Bulk imports into the dataset, read again every few seconds while one runs. */
export function useImports(project: string, dataset: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.imports(project, dataset),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/imports", {
          params: { path: { project_string_id: project }, query: { dataset } },
        }),
      ),
    refetchInterval: (query) =>
      query.state.data?.imports.some((job) => IMPORT_RUNNING.has(job.status)) ? IMPORT_POLL_MS : false,
  });
}

/** One import, with its failed items. */
export function useImport(project: string, importId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.import(project, importId),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/imports/{import_id}", {
          params: { path: { project_string_id: project, import_id: importId } },
        }),
      ),
  });
}

export function useFile(project: string, fileId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.file(project, fileId),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/files/{file_id}", {
          params: { path: { project_string_id: project, file_id: fileId } },
        }),
      ),
    staleTime: URL_LIFETIME_MS,
  });
}

/** The file's current annotations: read again only on purpose, never under someone's edits. */
export function useAnnotations(project: string, fileId: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.annotations(project, fileId),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/files/{file_id}/annotations", {
          params: { path: { project_string_id: project, file_id: fileId } },
        }),
      ),
    staleTime: Infinity,
  });
}

/** The file's saved versions; read only once `enabled` (the history panel is open). */
export function useAnnotationHistory(project: string, fileId: string, enabled: boolean) {
  const api = useApi();
  return useQuery({
    queryKey: keys.annotationHistory(project, fileId),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/files/{file_id}/annotations/history", {
          params: { path: { project_string_id: project, file_id: fileId } },
        }),
      ),
    enabled,
  });
}
