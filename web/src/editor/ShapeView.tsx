/** How the canvas draws an instance (with its handles when selected), and the box being dragged out. */
import { HANDLES, type Pt, handlePosition } from "./geometry";
import type { Shape } from "./instances";

export function DraftBox({ a, b, colour }: { a: Pt; b: Pt; colour: string }) {
  return (
    <rect
      className="draft"
      x={Math.min(a.x, b.x)}
      y={Math.min(a.y, b.y)}
      width={Math.abs(a.x - b.x)}
      height={Math.abs(a.y - b.y)}
      stroke={colour}
      fill="none"
      vectorEffect="non-scaling-stroke"
    />
  );
}

/** A caption drawn by a shape (e.g. a video frame's "interpolated"), at its top-left corner. */
function Note({ at, text, colour, size }: { at: Pt; text: string; colour: string; size: number }) {
  return (
    <text className="shape-note" x={at.x} y={at.y - size * 0.5} fontSize={size} fill={colour} strokeWidth={size * 0.25}>
      {text}
    </text>
  );
}

/** The data-* attributes name what a pointer lands on (input.ts reads them back); `note` captions the shape. */
export function ShapeView({
  shape,
  colour,
  selected,
  editable,
  handleSize,
  dashed = false,
  layer,
  note,
}: {
  shape: Shape;
  colour: string;
  selected: boolean;
  editable: boolean;
  handleSize: number;
  dashed?: boolean;
  layer?: string;
  note?: string;
}) {
  const common = {
    "data-shape": shape.key,
    "data-layer": layer,
    stroke: colour,
    strokeWidth: selected ? 3 : 2,
    strokeDasharray: dashed ? "6 4" : undefined,
    vectorEffect: "non-scaling-stroke" as const,
    className: `shape ${shape.kind}${selected ? " selected" : ""}`,
  };
  const label = `${shape.kind} ${shape.name}`;
  const first = shape.kind === "box" ? shape.points[0] : shape.points.reduce<Pt | undefined>((top, p) => (!top || p.y < top.y ? p : top), undefined);
  const caption = note && first ? <Note at={first} text={note} colour={colour} size={handleSize * 1.4} /> : null;
  if (shape.kind === "box") {
    const [min, max] = shape.points as [Pt, Pt];
    const box: [Pt, Pt] = [min, max];
    return (
      <g aria-label={label} data-note={note}>
        <rect
          {...common}
          x={min.x}
          y={min.y}
          width={max.x - min.x}
          height={max.y - min.y}
          fill={colour}
          fillOpacity={selected ? 0.25 : 0.08}
        />
        {selected && editable
          ? HANDLES.map((handle) => {
              const at = handlePosition(box, handle);
              return (
                <rect
                  key={handle}
                  className={`handle ${handle}`}
                  data-shape={shape.key}
                  data-handle={handle}
                  x={at.x - handleSize / 2}
                  y={at.y - handleSize / 2}
                  width={handleSize}
                  height={handleSize}
                />
              );
            })
          : null}
        {caption}
      </g>
    );
  }
  if (shape.kind === "polygon" || shape.kind === "line") {
    const points = shape.points.map((p) => `${p.x},${p.y}`).join(" ");
    const closed = shape.kind === "polygon";
    const edges = shape.points.map((p, i) => [p, shape.points[(i + 1) % shape.points.length] as Pt] as const);
    return (
      <g aria-label={label} data-note={note}>
        {closed ? (
          <polygon {...common} points={points} fill={colour} fillOpacity={selected ? 0.25 : 0.08} />
        ) : (
          <polyline {...common} points={points} fill="none" />
        )}
        {selected && editable
          ? (closed ? edges : edges.slice(0, -1)).map(([a, b], i) => (
              <line
                key={`e${i}`}
                className="edge"
                data-shape={shape.key}
                data-edge={i}
                x1={a.x}
                y1={a.y}
                x2={b.x}
                y2={b.y}
                strokeWidth={handleSize}
              />
            ))
          : null}
        {selected && editable
          ? shape.points.map((p, i) => (
              <circle key={i} className="vertex" data-shape={shape.key} data-vertex={i} cx={p.x} cy={p.y} r={handleSize / 2} />
            ))
          : null}
        {caption}
      </g>
    );
  }
  if (shape.kind === "point") {
    const p = shape.points[0];
    if (!p) return null;
    return (
      <g aria-label={label} data-note={note}>
        <circle {...common} cx={p.x} cy={p.y} r={handleSize * 0.6} fill={colour} fillOpacity={0.9} />
        {caption}
      </g>
    );
  }
  return null;
}
