/** What the pages hand the editor besides its instances. */
import type { Shape } from "./instances";

/** Another version to compare against, drawn dashed and read-only (e.g. one annotator's submission). */
export interface Layer {
  id: string;
  title: string;
  shapes: Shape[];
}

/** The page's main button (Save, Submit), also run by Ctrl+S. */
export interface PrimaryAction {
  label: string;
  busy: boolean;
  run: (shapes: Shape[]) => void;
}
