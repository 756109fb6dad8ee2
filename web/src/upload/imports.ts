/** Bulk imports on the dataset's upload page: an import's status in words. Pure. */
import type { ImportView } from "../api/types";

/**
 * An import's status for its row. An import whose run has ended stays `running` until the video ingest has a
 * result for each video it handed over (`awaiting_videos`): that is said, with how many still wait
 * (`total - done - failed`) where some do, rather than plain "running".
 */
export function importStatus(job: Pick<ImportView, "status" | "awaiting_videos" | "total" | "done" | "failed">): string {
  if (job.status !== "running" || !job.awaiting_videos) return job.status;
  const left = job.total - job.done - job.failed;
  return left > 0 ? `waiting for ${left} video${left === 1 ? "" : "s"}` : "waiting for the video ingest";
}
