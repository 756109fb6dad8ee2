/** The annotation editor's keyboard shortcuts: one table drives both the key handling and the help overlay. */

export type Tool = "select" | "box" | "polygon" | "line" | "point";

export type Command =
  | { type: "tool"; tool: Tool }
  | { type: "label"; index: number }
  | { type: "tag" }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "save" }
  | { type: "delete" }
  | { type: "finish" }
  | { type: "cancel" }
  | { type: "zoom"; factor: number }
  | { type: "fit" }
  | { type: "nudge"; dx: number; dy: number }
  | { type: "next-shape" }
  | { type: "help" }
  /** videos: the frame `delta` away; the first or last frame; play or pause; the object leaves the view */
  | { type: "frame"; delta: number }
  | { type: "frame-edge"; last: boolean }
  | { type: "play" }
  | { type: "outside" };

export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
}

/** `video`: only in the video editor; `image`: only in the image editor. */
export const SHORTCUTS: { keys: string; description: string; video?: true; image?: true }[] = [
  { keys: "V", description: "Select and edit (drag shapes, handles and vertices; drag the image to pan)" },
  { keys: "B", description: "Draw boxes (drag)" },
  { keys: "P", description: "Draw polygons (click points; click the first point or press Enter to close)" },
  { keys: "L", description: "Draw lines (click points; Enter to finish)" },
  { keys: "O", description: "Place points (click)" },
  { keys: "T", description: "Tag the file with the current label", image: true },
  { keys: "1 – 9", description: "Choose the label (in schema order)" },
  { keys: "Tab", description: "Select the next shape" },
  { keys: "Delete / Backspace", description: "Delete the selected shape (while drawing: the last point)" },
  { keys: "Arrow keys", description: "Move the selected shape by 1 px (Shift: 10 px)" },
  { keys: "Enter", description: "Finish the polygon or line being drawn" },
  { keys: "Escape", description: "Cancel drawing, or deselect" },
  { keys: "Ctrl/⌘ + Z", description: "Undo" },
  { keys: "Ctrl/⌘ + Shift + Z, Ctrl + Y", description: "Redo" },
  { keys: "Ctrl/⌘ + S", description: "Save" },
  { keys: "+ / −", description: "Zoom in / out (also Ctrl + wheel, or pinch on a trackpad; scroll pans)" },
  { keys: "0", description: "Fit the image to the window" },
  { keys: "?", description: "Show or hide this help" },
  { keys: ", / .", description: "Previous / next frame (< / >: 10 frames)", video: true },
  { keys: "Home / End", description: "First / last frame", video: true },
  { keys: "K", description: "Play or pause", video: true },
  { keys: "H", description: "The selected object leaves the view on this frame (again: it is back)", video: true },
  {
    keys: "T",
    description: "Frame tag with the current label: its first frame here; step, then T again on its last (Escape: cancel)",
    video: true,
  },
];

const TOOLS: Record<string, Tool> = { v: "select", b: "box", p: "polygon", l: "line", o: "point" };

/** The command a key press means, or null. */
export function commandFor(event: KeyLike): Command | null {
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (mod) {
    if (key === "z") return event.shiftKey ? { type: "redo" } : { type: "undo" };
    if (key === "y") return { type: "redo" };
    if (key === "s") return { type: "save" };
    return null;
  }
  if (event.altKey) {
    return null;
  }
  const tool = TOOLS[key];
  if (tool) return { type: "tool", tool };
  if (/^[1-9]$/.test(key)) return { type: "label", index: Number(key) - 1 };
  const step = event.shiftKey ? 10 : 1;
  switch (key) {
    case "t":
      return { type: "tag" };
    case ",":
      return { type: "frame", delta: -1 };
    case ".":
      return { type: "frame", delta: 1 };
    case "<":
      return { type: "frame", delta: -10 };
    case ">":
      return { type: "frame", delta: 10 };
    case "Home":
      return { type: "frame-edge", last: false };
    case "End":
      return { type: "frame-edge", last: true };
    case "k":
      return { type: "play" };
    case "h":
      return { type: "outside" };
    case "Delete":
    case "Backspace":
      return { type: "delete" };
    case "Enter":
      return { type: "finish" };
    case "Escape":
      return { type: "cancel" };
    case "+":
    case "=":
      return { type: "zoom", factor: 1.25 };
    case "-":
    case "_":
      return { type: "zoom", factor: 0.8 };
    case "0":
      return { type: "fit" };
    case "?":
      return { type: "help" };
    case "Tab":
      return { type: "next-shape" };
    case "ArrowLeft":
      return { type: "nudge", dx: -step, dy: 0 };
    case "ArrowRight":
      return { type: "nudge", dx: step, dy: 0 };
    case "ArrowUp":
      return { type: "nudge", dx: 0, dy: -step };
    case "ArrowDown":
      return { type: "nudge", dx: 0, dy: step };
    default:
      return null;
  }
}
