import type { QueryClient, QueryKey } from "@tanstack/react-query";

/**
 * Re-reads the queries under `queryKey` after a write, so a list shows what the write changed.
 *
 * `invalidateQueries` alone is not enough while a query's first fetch is still in flight: a query with no data yet
 * hands back that in-flight fetch instead of starting a new one, and that fetch may have read the server before the
 * write (a table that loads while the user submits a form). Cancelling first drops the stale answer, so the refetch
 * always starts after the write.
 */
export async function refreshAfterWrite(queryClient: QueryClient, queryKey: QueryKey): Promise<void> {
  await queryClient.cancelQueries({ queryKey });
  await queryClient.invalidateQueries({ queryKey });
}
