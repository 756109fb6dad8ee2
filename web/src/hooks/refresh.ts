import { type QueryKey, useQueryClient } from "@tanstack/react-query";
import { useCallback } from "react";

import { refreshAfterWrite } from "../api/refresh";

/**
 * Re-reads the queries under a key after a write. It cancels a read still in flight first: that read may have
 * reached the server before the write, and a list must show what the write changed (see refreshAfterWrite).
 */
export function useRefresh(): (key: QueryKey) => Promise<void> {
  const queryClient = useQueryClient();
  return useCallback((key: QueryKey) => refreshAfterWrite(queryClient, key), [queryClient]);
}
