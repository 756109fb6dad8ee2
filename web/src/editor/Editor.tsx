/**
 * The annotation editor: an image with zoom and pan, and SVG shapes drawn and edited on it (box, polygon,
 * line, point), tags, attributes, undo/redo and keyboard shortcuts. Its state changes in a pure reducer
 * (reducer.ts, over state.ts and pointer.ts); input.ts turns key, wheel and pointer events into its actions;
 * the components here draw it.
 */
import { type ReactNode, useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from "react";

import type { AttributeGroup, LabelSpec } from "../api/types";
import { Canvas } from "./Canvas";
import type { Size } from "./geometry";
import { useCanvasInput, useShortcuts } from "./input";
import type { Shape } from "./instances";
import { FALLBACK_COLOUR } from "./palette";
import { editorReducer } from "./reducer";
import { ShortcutsHelp } from "./ShortcutsHelp";
import { SidePanel } from "./SidePanel";
import { createEditorState, isDirty, shapesOf } from "./state";
import { Toolbar } from "./Toolbar";
import type { Layer, PrimaryAction } from "./types";

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
    { initial, size: imageSize, readOnly, labels: labelNames },
    createEditorState,
  );
  const [help, setHelp] = useState(false);
  const [spaceHeld, setSpaceHeld] = useState(false);
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
  const stage = useRef<HTMLDivElement>(null);
  const svg = useRef<SVGSVGElement>(null);
  const shapes = shapesOf(state);
  const dirty = isDirty(state);

  // Start over when the caller loads another version.
  useEffect(() => {
    dispatch({ type: "reset", initial });
  }, [resetKey]); // `initial` belongs to that key: a new array for the same key must not discard edits

  // The props the reducer works with, before the browser paints (and so before any input) with new ones.
  const { width, height } = imageSize;
  const labelsKey = labelNames.join("\n");
  useLayoutEffect(() => {
    dispatch({ type: "configure", size: { width, height }, readOnly, labels: labelNames });
  }, [width, height, readOnly, labelsKey]); // the names, not the array: callers may pass a new one each render

  useEffect(() => onChange?.(shapes, dirty), [shapes, dirty, onChange]);

  // The viewport's size (the reducer fits the image once both sizes are known).
  useEffect(() => {
    const element = stage.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      const rect = entry?.contentRect;
      if (rect) dispatch({ type: "viewport", viewport: { width: rect.width, height: rect.height } });
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useShortcuts({
    dispatch,
    save: primary && !primary.busy ? () => primary.run(shapes) : null,
    setHelp,
    setSpaceHeld,
  });
  const handlers = useCanvasInput(svg, dispatch, spaceHeld);

  const colours = useMemo(() => new Map(labels.map((l) => [l.name, l.colour])), [labels]);
  const colourOf = useCallback((name: string) => colours.get(name) ?? FALLBACK_COLOUR, [colours]);
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
