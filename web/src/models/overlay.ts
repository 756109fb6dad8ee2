/** A model's predictions as a read-only editor layer: instances below the chosen score are left out. */
import type { PacketInstance } from "../api/types";
import type { Layer } from "../editor/types";
import { fromPacket } from "../editor/instances";

/** An instance's model score (instances without one count as certain, so a slider never hides them). */
export function scoreOf(instance: PacketInstance): number {
  return typeof instance.score === "number" && Number.isFinite(instance.score) ? instance.score : 1;
}

/** The slider's score as a link carries it (`score=0.35`): a number from 0 to 1, anything else reads as 0. */
export function scoreFromLink(text: string | null): number {
  const score = text === null || text.trim() === "" ? NaN : Number(text);
  return Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0;
}

/** The `score` entry of a link for `minScore` (none at 0, the slider's default). */
export function scoreLinkEntry(minScore: number): Record<string, string> {
  return minScore > 0 ? { score: String(Number(minScore.toFixed(2))) } : {};
}

/** The instances scoring at least `minScore`. */
export function atLeast(instances: PacketInstance[], minScore: number): PacketInstance[] {
  return instances.filter((instance) => scoreOf(instance) >= minScore);
}

/** The layer of `model`'s predictions at or above `minScore`, titled with the model, version and run. */
export function predictionLayer(
  model: string,
  prediction: { run_id: string; instance_list: PacketInstance[] },
  minScore: number,
): Layer {
  const version = prediction.instance_list.find((i) => typeof i.version === "number")?.version;
  return {
    id: `model:${model}`,
    title: `${model}${version !== undefined ? ` v${String(version)}` : ""} predictions ≥ ${minScore.toFixed(2)}`,
    shapes: atLeast(prediction.instance_list, minScore).map((instance, index) =>
      fromPacket(instance, `${prediction.run_id}:${index}`),
    ),
  };
}

/** A box instance, its corners in the original's pixels. */
export type BoxInstance = PacketInstance & { x_min: number; y_min: number; x_max: number; y_max: number };

/** The box instances among `instances` (other shapes are left out). */
export function boxesOf(instances: PacketInstance[]): BoxInstance[] {
  return instances.filter(
    (i): i is BoxInstance =>
      i.type === "box" &&
      typeof i.x_min === "number" &&
      typeof i.y_min === "number" &&
      typeof i.x_max === "number" &&
      typeof i.y_max === "number",
  );
}

/** The predicted boxes a thumbnail draws: those scoring at least `minScore` (none where the run predicted nothing). */
export function shownBoxes(predictions: PacketInstance[] | null | undefined, minScore: number): BoxInstance[] {
  return boxesOf(atLeast(predictions ?? [], minScore));
}

/** A predicted box's tooltip: its label and score. */
export function boxTitle(instance: PacketInstance): string {
  const score = typeof instance.score === "number" ? ` ${instance.score.toFixed(2)}` : "";
  return `${String(instance.name)}${score}`;
}
