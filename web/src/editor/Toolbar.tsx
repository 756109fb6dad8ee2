/** The editor's toolbar: tools, the current label, undo/redo, zoom, help, and the page's own actions. */
import type { Dispatch, ReactNode } from "react";

import type { LabelSpec } from "../api/types";
import { canRedo, canUndo } from "./history";
import type { ColourOf } from "./palette";
import type { EditorAction } from "./reducer";
import type { Tool } from "./shortcuts";
import { type EditorState, shapesOf } from "./state";
import type { PrimaryAction } from "./types";

const TOOL_NAMES: Record<Tool, string> = {
  select: "Select",
  box: "Box",
  polygon: "Polygon",
  line: "Line",
  point: "Point",
};
const TOOL_KEYS: Record<Tool, string> = { select: "V", box: "B", polygon: "P", line: "L", point: "O" };

export function Toolbar({
  state,
  dispatch,
  labels,
  colourOf,
  onHelp,
  extraActions,
  primary,
  tools = Object.keys(TOOL_NAMES) as Tool[],
  canTag = true,
  undoable,
}: {
  state: EditorState;
  dispatch: Dispatch<EditorAction>;
  labels: LabelSpec[];
  colourOf: ColourOf;
  onHelp: () => void;
  extraActions?: ReactNode;
  primary?: PrimaryAction;
  /** the tools offered (a video has no lines) */
  tools?: Tool[];
  /** whether "Tag file" is offered */
  canTag?: boolean;
  /** where undo works on something else than the shapes (a video's tracks) */
  undoable?: { undo: boolean; redo: boolean };
}) {
  const { readOnly, tool, label, history, view } = state;
  return (
    <div className="toolbar" role="toolbar" aria-label="Annotation tools">
      <div className="group" role="group" aria-label="Tools">
        {tools
          .filter((t) => !readOnly || t === "select")
          .map((t) => (
            <button
              key={t}
              type="button"
              aria-pressed={tool === t}
              title={`${TOOL_NAMES[t]} (${TOOL_KEYS[t]})`}
              onClick={() => dispatch({ type: "tool", tool: t })}
            >
              {TOOL_NAMES[t]}
            </button>
          ))}
      </div>
      {!readOnly ? (
        <div className="group">
          <label>
            Label{" "}
            <select value={label} onChange={(e) => dispatch({ type: "label", name: e.target.value })} aria-label="Label">
              {labels.map((l, i) => (
                <option key={l.name} value={l.name}>
                  {i < 9 ? `${i + 1} · ` : ""}
                  {l.name}
                </option>
              ))}
            </select>
          </label>
          <span className="swatch" style={{ background: colourOf(label) }} aria-hidden="true" />
          {canTag ? (
            <button type="button" onClick={() => dispatch({ type: "tag" })} title="Tag the file with this label (T)">
              Tag file
            </button>
          ) : null}
        </div>
      ) : null}
      {!readOnly ? (
        <div className="group">
          <button type="button" onClick={() => dispatch({ type: "undo" })} disabled={!(undoable?.undo ?? canUndo(history))} title="Undo (Ctrl+Z)">
            Undo
          </button>
          <button
            type="button"
            onClick={() => dispatch({ type: "redo" })}
            disabled={!(undoable?.redo ?? canRedo(history))}
            title="Redo (Ctrl+Shift+Z)"
          >
            Redo
          </button>
        </div>
      ) : null}
      <div className="group">
        <button type="button" onClick={() => dispatch({ type: "zoom", factor: 0.8 })} aria-label="Zoom out" title="Zoom out (−)">
          −
        </button>
        <span className="zoom" aria-label="Zoom level">
          {Math.round(view.scale * 100)}%
        </span>
        <button type="button" onClick={() => dispatch({ type: "zoom", factor: 1.25 })} aria-label="Zoom in" title="Zoom in (+)">
          +
        </button>
        <button type="button" onClick={() => dispatch({ type: "fit" })} title="Fit (0)">
          Fit
        </button>
        <button type="button" onClick={onHelp} aria-label="Keyboard shortcuts" title="Shortcuts (?)">
          ?
        </button>
      </div>
      <div className="spacer" />
      {extraActions}
      {primary ? (
        <button
          type="button"
          className="primary"
          disabled={primary.busy}
          onClick={() => primary.run(shapesOf(state))}
          title="Ctrl+S"
        >
          {primary.busy ? `${primary.label}…` : primary.label}
        </button>
      ) : null}
    </div>
  );
}
