/** The editor's colours: a label's own (from the schema) or the fallback, and the comparison layers'. */

/** A label's colour, by label name. */
export type ColourOf = (name: string) => string;

export const FALLBACK_COLOUR = "#9aa0a6";
const LAYER_COLOURS = ["#ff00ff", "#00c8ff", "#ffd000", "#7cff00", "#ff6a00"];

/** The colour of the comparison layer at `index`. */
export function layerColour(index: number): string {
  return LAYER_COLOURS[index % LAYER_COLOURS.length] ?? FALLBACK_COLOUR;
}
