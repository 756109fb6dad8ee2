/** The arithmetic of the run page's plain-SVG charts: linear scales, the AP bars, and PR curves as paths. */

/** A linear map of `[d0, d1]` onto `[r0, r1]` (a zero-width domain maps to `r0`). */
export function linear(d0: number, d1: number, r0: number, r1: number): (value: number) => number {
  const span = d1 - d0;
  return (value) => (span === 0 ? r0 : r0 + ((value - d0) / span) * (r1 - r0));
}

export interface Bar {
  label: string;
  /** the AP in [0, 1], or null where the class has no human box (no AP) */
  value: number | null;
  /** the bar's length in pixels (0 for no AP) */
  length: number;
}

/** One bar per class, best AP first, classes without an AP last (by name), scaled to `width` pixels at AP 1. */
export function apBars(perClass: Record<string, number | null | undefined>, width: number): Bar[] {
  const scale = linear(0, 1, 0, width);
  return Object.entries(perClass)
    .map(([label, value]) => ({ label, value: value ?? null }))
    .sort((a, b) => {
      if (a.value === null || b.value === null) {
        return a.value === b.value ? a.label.localeCompare(b.label) : a.value === null ? 1 : -1;
      }
      return b.value - a.value || a.label.localeCompare(b.label);
    })
    .map((bar) => ({ ...bar, length: bar.value === null ? 0 : scale(Math.min(1, Math.max(0, bar.value))) }));
}

/** An SVG path through (recall, precision) points on a `width`×`height` plot (y grows downwards). */
export function prPath(points: readonly (readonly number[])[], width: number, height: number): string {
  const x = linear(0, 1, 0, width);
  const y = linear(0, 1, height, 0);
  return points
    .map(([recall = 0, precision = 0], i) => `${i === 0 ? "M" : "L"}${x(recall).toFixed(1)},${y(precision).toFixed(1)}`)
    .join(" ");
}

/** Seconds as the person reads them: "42 s", "3.5 min", "1.2 h"; "—" for none. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
