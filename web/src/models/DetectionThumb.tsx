/** A file's image with the human boxes (solid) and a run's predicted boxes (dashed) drawn over it. */
import { useAnnotations, useFile } from "../hooks/files";
import { usePrediction } from "../hooks/models";
import { BoxRects, useLabelColours } from "./Boxes";
import { boxesOf } from "./overlay";

const SIDE = 160;

export function DetectionThumb({ project, runId, fileId }: { project: string; runId: string; fileId: string }) {
  const file = useFile(project, fileId);
  const human = useAnnotations(project, fileId);
  const predicted = usePrediction(project, runId, fileId);
  const colourOf = useLabelColours(project);
  const width = file.data?.width ?? 1;
  const height = file.data?.height ?? 1;
  const humanBoxes = boxesOf((human.data?.instance_list ?? []).filter((i) => i.source !== "model"));
  const modelBoxes = boxesOf(predicted.data?.instance_list ?? []);
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
      <BoxRects boxes={humanBoxes} side="human" colourOf={colourOf} />
      <BoxRects boxes={modelBoxes} side="prediction" colourOf={colourOf} />
    </svg>
  );
}
