/** The pick of a model whose predictions are overlaid, and the score below which they are hidden (editor and explorer). */
import type { ReactNode } from "react";

export function PredictionControls({
  models,
  model,
  onModel,
  minScore,
  onMinScore,
  children,
}: {
  /** the models with a finished run */
  models: { name: string; latest_run?: string | null }[];
  /** the picked model's name ("" for none) */
  model: string;
  onModel: (model: string) => void;
  minScore: number;
  onMinScore: (score: number) => void;
  /** what the overlay shows, beside the slider */
  children?: ReactNode;
}) {
  const listed = model && !models.some((m) => m.name === model) ? [...models, { name: model }] : models;
  return (
    <div className="prediction-overlay" role="group" aria-label="Model predictions">
      <label>
        Predictions{" "}
        <select aria-label="Predictions of model" value={model} onChange={(e) => onModel(e.target.value)}>
          <option value="">none</option>
          {listed.map((m) => (
            <option key={m.name} value={m.name}>
              {m.name}
              {m.latest_run ? ` (run ${m.latest_run})` : ""}
            </option>
          ))}
        </select>
      </label>
      {model ? (
        <>
          <label>
            Min score{" "}
            <input
              type="range"
              min={0}
              max={1}
              step={0.05}
              value={minScore}
              onChange={(e) => onMinScore(Number(e.target.value))}
              aria-valuetext={minScore.toFixed(2)}
            />{" "}
            <output>{minScore.toFixed(2)}</output>
          </label>
          {children}
        </>
      ) : null}
    </div>
  );
}
