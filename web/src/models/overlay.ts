/** A model's predictions as a read-only editor layer: instances below the chosen score are left out. */
import type { PacketInstance } from "../api/types";
import type { Layer } from "../editor/types";
import { fromPacket } from "../editor/instances";

/** An instance's model score (instances without one count as certain, so a slider never hides them). */
export function scoreOf(instance: PacketInstance): number {
  return typeof instance.score === "number" && Number.isFinite(instance.score) ? instance.score : 1;
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
