/** The file editor's prediction overlay: a model's latest finished run on this file, as a read-only dashed layer,
 * with a score slider that hides the predictions below it. */
import { type ReactNode, useMemo, useState } from "react";

import { ErrorNotice } from "../components/common";
import type { Layer } from "../editor/types";
import { useModels, usePrediction } from "../hooks/models";
import { predictionLayer } from "./overlay";
import { PredictionControls } from "./PredictionControls";

/** `initialModel` and `initialScore`: the model and the score picked where the file was opened from (the
 * explorer's overlay), "" and 0 for none. */
export function usePredictionOverlay(
  project: string,
  fileId: string,
  initialModel = "",
  initialScore = 0,
): { controls: ReactNode; layers: Layer[]; model: string; minScore: number } {
  const models = useModels(project);
  const [model, setModel] = useState(initialModel);
  const [minScore, setMinScore] = useState(initialScore);
  const chosen = models.data?.find((m) => m.name === model) ?? null;
  const runId = chosen?.latest_run ?? null;
  const prediction = usePrediction(project, runId, fileId);
  const layers = useMemo(
    () => (chosen && prediction.data ? [predictionLayer(chosen.name, prediction.data, minScore)] : []),
    [chosen, prediction.data, minScore],
  );
  const withRuns = models.data?.filter((m) => m.latest_run) ?? [];
  if (!models.data || withRuns.length === 0) {
    return { controls: <ErrorNotice error={models.error} />, layers: [], model, minScore };
  }
  const shown = layers[0]?.shapes.length ?? 0;
  const all = prediction.data?.instance_list.length ?? 0;
  const controls = (
    <>
      <PredictionControls models={withRuns} model={model} onModel={setModel} minScore={minScore} onMinScore={setMinScore}>
        <span className="hint" role="status">
          {prediction.isPending
            ? "Loading predictions…"
            : prediction.data === null
              ? "this file was not in the run"
              : `${shown} of ${all} shown, dashed`}
        </span>
      </PredictionControls>
      <ErrorNotice error={prediction.error} />
    </>
  );
  return { controls, layers, model, minScore };
}
