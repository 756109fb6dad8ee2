/** The run page's charts, in plain SVG: AP per class as bars, and precision-recall curves. */
import { layerColour } from "../editor/palette";
import { apBars, linear, prPath } from "./charts";

const ROW = 22;
const LABEL_W = 110;
const BAR_W = 260;

export function ApChart({ perClass }: { perClass: Record<string, number | null | undefined> }) {
  const bars = apBars(perClass, BAR_W);
  const height = bars.length * ROW + 4;
  return (
    <svg
      className="ap-chart"
      role="img"
      aria-label={`AP per class: ${bars.map((b) => `${b.label} ${b.value === null ? "no AP" : b.value.toFixed(3)}`).join(", ")}`}
      width={LABEL_W + BAR_W + 60}
      height={height}
    >
      {bars.map((bar, i) => (
        <g key={bar.label} transform={`translate(0 ${i * ROW + 2})`} data-class={bar.label}>
          <text x={LABEL_W - 6} y={ROW / 2 + 4} textAnchor="end">
            {bar.label}
          </text>
          <rect x={LABEL_W} y={3} width={BAR_W} height={ROW - 6} className="ap-track" />
          <rect x={LABEL_W} y={3} width={bar.length} height={ROW - 6} className="ap-bar" />
          <text x={LABEL_W + BAR_W + 6} y={ROW / 2 + 4}>
            {bar.value === null ? "no AP" : bar.value.toFixed(3)}
          </text>
        </g>
      ))}
    </svg>
  );
}

const PLOT = 220;
const MARGIN = 34;

export function PrChart({ curves }: { curves: Record<string, number[][]> }) {
  const names = Object.keys(curves).sort();
  const tick = linear(0, 1, 0, PLOT);
  return (
    <figure className="pr-chart">
      <svg
        role="img"
        aria-label={`Precision-recall curves of ${names.join(", ")}`}
        width={PLOT + MARGIN + 10}
        height={PLOT + MARGIN + 10}
      >
        <g transform={`translate(${MARGIN} 8)`}>
          <rect width={PLOT} height={PLOT} className="frame" />
          {[0, 0.25, 0.5, 0.75, 1].map((t) => (
            <g key={t}>
              <line x1={tick(t)} x2={tick(t)} y1={0} y2={PLOT} className="grid" />
              <line x1={0} x2={PLOT} y1={PLOT - tick(t)} y2={PLOT - tick(t)} className="grid" />
              <text x={tick(t)} y={PLOT + 14} textAnchor="middle">
                {t}
              </text>
              <text x={-4} y={PLOT - tick(t) + 4} textAnchor="end">
                {t}
              </text>
            </g>
          ))}
          {names.map((name, i) => (
            <path
              key={name}
              d={prPath(curves[name] ?? [], PLOT, PLOT)}
              stroke={layerColour(i)}
              data-class={name}
              className="curve"
            />
          ))}
          <text x={PLOT / 2} y={PLOT + 28} textAnchor="middle">
            recall
          </text>
        </g>
      </svg>
      <figcaption>
        precision against recall:{" "}
        {names.map((name, i) => (
          <span key={name} className="legend">
            <span className="swatch" style={{ background: layerColour(i) }} /> {name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
