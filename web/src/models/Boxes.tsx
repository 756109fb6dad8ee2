/** Boxes drawn over a thumbnail in the original's pixels: a human's solid, a model's dashed with its score as a tooltip. */
import { useMemo } from "react";

import { type ColourOf, FALLBACK_COLOUR } from "../editor/palette";
import { useSchema } from "../hooks/project";
import { type BoxInstance, boxTitle } from "./overlay";

/** Each label's colour from the project's schema (the fallback for labels it does not name). */
export function useLabelColours(project: string): ColourOf {
  const schema = useSchema(project);
  return useMemo(() => {
    const colours = new Map(schema.data?.labels.map((l) => [l.name, l.colour]) ?? []);
    return (name: string) => colours.get(name) ?? FALLBACK_COLOUR;
  }, [schema.data]);
}

export function BoxRects({
  boxes,
  side,
  colourOf,
}: {
  boxes: BoxInstance[];
  side: "human" | "prediction";
  colourOf: ColourOf;
}) {
  return boxes.map((b, i) => (
    <rect
      key={`${side}${i}`}
      data-side={side}
      x={b.x_min}
      y={b.y_min}
      width={b.x_max - b.x_min}
      height={b.y_max - b.y_min}
      stroke={colourOf(String(b.name))}
      strokeDasharray={side === "prediction" ? "4 3" : undefined}
      vectorEffect="non-scaling-stroke"
    >
      {side === "prediction" ? <title>{boxTitle(b)}</title> : null}
    </rect>
  ));
}
