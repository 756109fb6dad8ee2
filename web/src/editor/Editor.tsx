/**
 * The annotation editor: an image with zoom and pan, and SVG shapes drawn and edited on it (box, polygon,
 * line, point), tags, attributes, undo/redo and keyboard shortcuts. Its state changes in a pure reducer
 * (reducer.ts, over state.ts and pointer.ts); input.ts turns key, wheel and pointer events into its actions;
 * the components here draw it.
 */
import { type ReactNode, useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";

import type { AttributeGroup, LabelSpec } from "../api/types";
import { Canvas } from "./Canvas";
import type { Size } from "./geometry";
import type { Shape } from "./instances";
import { editorReducer } from "./reducer";
import { ShortcutsHelp } from "./ShortcutsHelp";
import { SidePanel } from "./SidePanel";
import { createEditorState, isDirty, shapesOf } from "./state";
import { Toolbar } from "./Toolbar";
import type { Layer, PrimaryAction } from "./types";
import { useEditorShell } from "./useEditorShell";

export type { Layer, PrimaryAction } from "./types";

interface EditorProps {
  imageUrl: string | null | undefined;
  imageSize: Size;
  labels: LabelSpec[];
  attributeGroups: AttributeGroup[];
  /** the instances to start from; the editor starts over whenever `resetKey` changes */
  initial: Shape[];
  resetKey: string;
  readOnly?: boolean;
  /** other versions to compare against, drawn dashed and read-only (e.g. each annotator's submission) */
  layers?: Layer[];
  primary?: PrimaryAction;
  extraActions?: ReactNode;
  onChange?: (shapes: Shape[], dirty: boolean) => void;
}

export function Editor({
  imageUrl,
  imageSize,
  labels,
  attributeGroups,
  initial,
  resetKey,
  readOnly = false,
  layers = [],
  primary,
  extraActions,
  onChange,
}: EditorProps) {
  const labelNames = useMemo(() => labels.map((l) => l.name), [labels]);
  const [state, dispatch] = useReducer(
    editorReducer,
    { initial, size: imageSize, readOnly, labels: labelNames, attributeGroups },
    createEditorState,
  );
  const [visibleLayers, setVisibleLayers] = useState<Set<string>>(() => new Set(layers.map((l) => l.id)));
  // A layer given later (e.g. predictions read after the editor opened) shows, as those given at first do.
  const seenLayers = useRef(new Set(layers.map((l) => l.id)));
  const layerIds = layers.map((l) => l.id).join("\n");
  useEffect(() => {
    const added = layers.map((l) => l.id).filter((id) => !seenLayers.current.has(id));
    if (added.length === 0) return;
    added.forEach((id) => seenLayers.current.add(id));
    setVisibleLayers((visible) => new Set([...visible, ...added]));
  }, [layerIds]); // the ids, not the array: callers may pass a new one each render
  const shapes = shapesOf(state);
  const dirty = isDirty(state);
  const { help, setHelp, spaceHeld, stage, svg, handlers, colourOf } = useEditorShell({
    dispatch,
    labels,
    labelNames,
    attributeGroups,
    size: imageSize,
    readOnly,
    save: primary && !primary.busy ? () => primary.run(shapes) : null,
  });

  // Start over when the caller loads another version.
  useEffect(() => {
    dispatch({ type: "reset", initial });
  }, [resetKey]); // `initial` belongs to that key: a new array for the same key must not discard edits

  useEffect(() => onChange?.(shapes, dirty), [shapes, dirty, onChange]);

  const showLayer = useCallback((id: string, shown: boolean) => {
    setVisibleLayers((visible) => {
      const next = new Set(visible);
      if (shown) next.add(id);
      else next.delete(id);
      return next;
    });
  }, []);

  return (
    <div className="editor">
      <Toolbar
        state={state}
        dispatch={dispatch}
        labels={labels}
        colourOf={colourOf}
        onHelp={() => setHelp(true)}
        extraActions={extraActions}
        primary={primary}
      />
      <div className="editor-body">
        <Canvas
          state={state}
          imageUrl={imageUrl}
          layers={layers}
          visibleLayers={visibleLayers}
          colourOf={colourOf}
          spaceHeld={spaceHeld}
          stageRef={stage}
          svgRef={svg}
          handlers={handlers}
        />
        <SidePanel
          state={state}
          dispatch={dispatch}
          attributeGroups={attributeGroups}
          colourOf={colourOf}
          layers={layers}
          visibleLayers={visibleLayers}
          onShowLayer={showLayer}
        />
      </div>
      <ShortcutsHelp open={help} onClose={() => setHelp(false)} />
    </div>
  );
}
