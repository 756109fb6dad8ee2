/** Reads of snapshots (list, one, a diff of two) and of exports (list, refreshed while any is moving). */
import { useQuery } from "@tanstack/react-query";

import { call } from "../api/client";
import { isLive } from "../exports/options";
import { useApi } from "../services";
import { keys } from "./keys";

/** How often a pending snapshot or a running export is read again. */
const LIVE_MS = 2000;

export function useSnapshots(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.snapshots(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/snapshots", { params: { path: { project_string_id: project } } })),
    refetchInterval: (query) => (query.state.data?.snapshots.some((s) => s.status === "pending") ? LIVE_MS : false),
  });
}

export function useSnapshot(project: string, ref: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.snapshot(project, ref),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/snapshots/{snapshot_ref}", {
          params: { path: { project_string_id: project, snapshot_ref: ref } },
        }),
      ),
    refetchInterval: (query) => (query.state.data?.status === "pending" ? LIVE_MS : false),
  });
}

/** What changed from snapshot `a` to `b`; nothing is read while `b` is empty. */
export function useSnapshotDiff(project: string, a: string, b: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.snapshotDiff(project, a, b),
    queryFn: () =>
      call(
        api.GET("/api/v1/projects/{project_string_id}/snapshots/{snapshot_ref}/diff/{other_ref}", {
          params: { path: { project_string_id: project, snapshot_ref: a, other_ref: b }, query: { limit: 100 } },
        }),
      ),
    enabled: b !== "",
    staleTime: Infinity, // snapshots never change: neither does their diff
  });
}

export function useExports(project: string) {
  const api = useApi();
  return useQuery({
    queryKey: keys.exports(project),
    queryFn: () =>
      call(api.GET("/api/v1/projects/{project_string_id}/exports", { params: { path: { project_string_id: project } } })),
    refetchInterval: (query) => (query.state.data?.exports.some((e) => isLive(e.status)) ? LIVE_MS : false),
    staleTime: 0,
  });
}
