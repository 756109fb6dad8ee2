/** A file's image with the human boxes (solid) and a run's predicted boxes (dashed) drawn over it. */
import type { PacketInstance } from "../api/types";
import { FALLBACK_COLOUR } from "../editor/palette";
import { useAnnotations, useFile } from "../hooks/files";
import { usePrediction } from "../hooks/models";
import { useSchema } from "../hooks/project";

const SIDE = 160;

function boxes(instances: PacketInstance[]) {
  return instances.filter(
    (i): i is PacketInstance & { x_min: number; y_min: number; x_max: number; y_max: number } =>
      i.type === "box" &&
      typeof i.x_min === "number" &&
      typeof i.y_min === "number" &&
      typeof i.x_max === "number" &&
      typeof i.y_max === "number",
  );
}

export function DetectionThumb({ project, runId, fileId }: { project: string; runId: string; fileId: string }) {
  const file = useFile(project, fileId);
  const human = useAnnotations(project, fileId);
  const predicted = usePrediction(project, runId, fileId);
  const schema = useSchema(project);
  const colours = new Map(schema.data?.labels.map((l) => [l.name, l.colour]) ?? []);
  const colour = (name: unknown) => colours.get(String(name)) ?? FALLBACK_COLOUR;
  const width = file.data?.width ?? 1;
  const height = file.data?.height ?? 1;
  const humanBoxes = boxes((human.data?.instance_list ?? []).filter((i) => i.source !== "model"));
  const modelBoxes = boxes(predicted.data?.instance_list ?? []);
  return (
    <svg
      className="detection-thumb"
      viewBox={`0 0 ${width} ${height}`}
      width={SIDE}
      height={(SIDE * height) / width}
      role="img"
      aria-label={`${file.data?.original_name ?? fileId}: ${humanBoxes.length} human boxes, ${modelBoxes.length} predicted`}
      data-file={fileId}
    >
      {file.data && (file.data.thumbnail_url ?? file.data.media_url) ? (
        <image href={file.data.thumbnail_url ?? file.data.media_url ?? ""} width={width} height={height} preserveAspectRatio="none" />
      ) : null}
      {humanBoxes.map((b, i) => (
        <rect
          key={`h${i}`}
          data-side="human"
          x={b.x_min}
          y={b.y_min}
          width={b.x_max - b.x_min}
          height={b.y_max - b.y_min}
          stroke={colour(b.name)}
          vectorEffect="non-scaling-stroke"
        />
      ))}
      {modelBoxes.map((b, i) => (
        <rect
          key={`p${i}`}
          data-side="prediction"
          x={b.x_min}
          y={b.y_min}
          width={b.x_max - b.x_min}
          height={b.y_max - b.y_min}
          stroke={colour(b.name)}
          strokeDasharray="4 3"
          vectorEffect="non-scaling-stroke"
        >
          <title>{`${String(b.name)} ${typeof b.score === "number" ? b.score.toFixed(2) : ""}`}</title>
        </rect>
      ))}
    </svg>
  );
}
