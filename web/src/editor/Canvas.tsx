/** The stage: the image under the zoom/pan view, the comparison layers, the instances, and what is being drawn. */

/** How a shape is set apart: dashed, with a caption (a video's interpolated shapes). */
export interface ShapeMark {
  dashed: boolean;
  note: string;
}
import type { RefObject } from "react";

import type { CanvasHandlers } from "./input";
import type { Shape } from "./instances";
import { DraftBox, ShapeView } from "./ShapeView";
import { type ColourOf, layerColour } from "./palette";
import { type EditorState, shapesOf } from "./state";
import type { Layer } from "./types";

export function Canvas({
  state,
  imageUrl,
  layers,
  visibleLayers,
  colourOf,
  spaceHeld,
  stageRef,
  svgRef,
  handlers,
  markOf,
  hint,
}: {
  state: EditorState;
  imageUrl: string | null | undefined;
  layers: Layer[];
  visibleLayers: Set<string>;
  colourOf: ColourOf;
  spaceHeld: boolean;
  stageRef: RefObject<HTMLDivElement | null>;
  svgRef: RefObject<SVGSVGElement | null>;
  handlers: CanvasHandlers;
  markOf?: (shape: Shape) => ShapeMark | undefined;
  /** a line over the stage's foot, when nothing is being drawn */
  hint?: string;
}) {
  const { view, size, drag, draft, hover, tool, readOnly, selected, label } = state;
  const handleSize = 9 / view.scale;
  const cursor = drag?.kind === "pan" || spaceHeld ? "grabbing" : tool === "select" || readOnly ? "default" : "crosshair";
  return (
    <div className="stage" ref={stageRef}>
      <svg
        ref={svgRef}
        className="canvas"
        role="application"
        aria-label="Image canvas"
        aria-roledescription="annotation canvas"
        style={{ cursor }}
        {...handlers}
      >
        <g transform={`translate(${view.x} ${view.y}) scale(${view.scale})`}>
          {imageUrl ? (
            <image href={imageUrl} width={size.width} height={size.height} preserveAspectRatio="none" />
          ) : (
            <rect width={size.width} height={size.height} className="no-image" />
          )}
          {layers
            .filter((layer) => visibleLayers.has(layer.id))
            .map((layer, index) => (
              <g key={layer.id} className="layer" data-layer={layer.id}>
                {layer.shapes.map((shape) => (
                  <ShapeView
                    key={shape.key}
                    shape={shape}
                    colour={layerColour(index)}
                    selected={false}
                    editable={false}
                    handleSize={handleSize}
                    dashed
                    layer={layer.id}
                  />
                ))}
              </g>
            ))}
          {shapesOf(state).map((shape) => {
            const mark = markOf?.(shape);
            return (
              <ShapeView
                key={shape.key}
                shape={shape}
                colour={colourOf(shape.name)}
                selected={shape.key === selected}
                editable={!readOnly && tool === "select"}
                handleSize={handleSize}
                dashed={mark?.dashed}
                note={mark?.note}
              />
            );
          })}
          {drag?.kind === "box" ? <DraftBox a={drag.start} b={drag.current} colour={colourOf(label)} /> : null}
          {draft.length > 0 ? (
            <polyline
              className="draft"
              points={[...draft, ...(hover ? [hover] : [])].map((p) => `${p.x},${p.y}`).join(" ")}
              stroke={colourOf(label)}
              fill="none"
              vectorEffect="non-scaling-stroke"
            />
          ) : null}
          {draft.map((p, i) => (
            <circle key={i} cx={p.x} cy={p.y} r={handleSize / 2} className="draft-vertex" fill={colourOf(label)} />
          ))}
        </g>
      </svg>
      {draft.length > 0 ? (
        <p className="stage-hint" role="status">
          {tool === "polygon" ? "Click the first point or press Enter to close the polygon" : "Press Enter to finish the line"}
          ; Escape cancels.
        </p>
      ) : hint ? (
        <p className="stage-hint">{hint}</p>
      ) : null}
    </div>
  );
}
