/**
 * The frame to show: frame `frame` of the video from the frames endpoint (through a FrameCache, a few frames
 * ahead prefetched, more while playing), or, until it arrives, the last frame shown, so stepping never blanks.
 */
import { useEffect, useMemo, useRef, useState } from "react";

import { call } from "../../api/client";
import { useApi } from "../../services";
import { FrameCache } from "./frameCache";

export const AHEAD = 4;
export const AHEAD_PLAYING = 12;

export interface ShownFrame {
  /** the object URL of the image on screen, and the frame it is */
  url: string | null;
  shown: number | null;
  /** whether `frame` itself is loaded (playback waits for it) */
  ready: (frame: number) => boolean;
  error: unknown;
  /** frames arrived so far (changes with each arrival) */
  arrivals: number;
}

export function useFrames(project: string, fileId: string, frameCount: number, frame: number, playing: boolean): ShownFrame {
  const api = useApi();
  const cache = useMemo(
    () =>
      new FrameCache(async (n) => {
        const data = await call(
          api.GET("/api/v1/projects/{project_string_id}/files/{file_id}/frames/{frame}", {
            params: { path: { project_string_id: project, file_id: fileId, frame: n } },
            parseAs: "blob",
          }),
        );
        return data as Blob;
      }, frameCount),
    [api, project, fileId, frameCount],
  );
  useEffect(() => () => cache.dispose(), [cache]);
  // re-render whenever a frame arrives
  const [arrivals, setArrivals] = useState(0);
  useEffect(() => cache.subscribe(() => setArrivals((n) => n + 1)), [cache]);
  useEffect(() => cache.want(frame, playing ? AHEAD_PLAYING : AHEAD), [cache, frame, playing]);

  const last = useRef<{ url: string; shown: number } | null>(null);
  const url = cache.url(frame);
  if (url) last.current = { url, shown: frame };
  // a URL the cache has dropped (revoked) is no longer shown
  else if (last.current && cache.url(last.current.shown) !== last.current.url) last.current = null;
  return {
    url: last.current?.url ?? null,
    shown: last.current?.shown ?? null,
    ready: (n) => cache.url(n) !== undefined,
    error: cache.error(frame),
    arrivals,
  };
}
