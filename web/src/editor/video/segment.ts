/**
 * The frames an editor works on: the whole video, or a segment task's frames (`frame_start`..`frame_end`,
 * inclusive). Seeking, stepping and playback stay inside them; the timeline shows the rest greyed.
 */

export interface FrameRange {
  first: number;
  last: number;
}

/** The whole video, or the segment's frames within it (a range beyond the video is cut to it). */
export function frameRange(frameCount: number, segment?: { start?: number | null; end?: number | null } | null): FrameRange {
  const lastFrame = Math.max(0, frameCount - 1);
  const first = Math.min(lastFrame, Math.max(0, segment?.start ?? 0));
  const last = Math.max(first, Math.min(lastFrame, segment?.end ?? lastFrame));
  return { first, last };
}

export function clampToRange(range: FrameRange, frame: number): number {
  return Math.max(range.first, Math.min(range.last, Math.round(frame)));
}

export function isWholeVideo(range: FrameRange, frameCount: number): boolean {
  return range.first === 0 && range.last >= frameCount - 1;
}

export function sameRange(a: FrameRange, b: FrameRange): boolean {
  return a.first === b.first && a.last === b.last;
}
