/**
 * What the image and the video editor set up alike around their reducers: the props the reducer works with,
 * the stage and its size, keyboard shortcuts (and the help they open), pointer and wheel input, label colours.
 */
import { type Dispatch, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import type { AttributeGroup, LabelSpec } from "../api/types";
import type { Size } from "./geometry";
import { useCanvasInput, useShortcuts } from "./input";
import { FALLBACK_COLOUR } from "./palette";
import type { EditorAction } from "./reducer";
import type { Command } from "./shortcuts";

interface ShellSetup {
  dispatch: Dispatch<EditorAction>;
  labels: LabelSpec[];
  /** the labels' names, as the reducer was created with */
  labelNames: string[];
  /** the schema's attribute groups (new shapes and tags start with their defaults) */
  attributeGroups: AttributeGroup[];
  size: Size;
  readOnly: boolean;
  /** the Save or Submit button's action, run by Ctrl+S (null while it cannot run) */
  save: (() => void) | null;
  /** the commands the image editor has no action for (the video editor's); true when handled */
  other?: (command: Command) => boolean;
}

export function useEditorShell({ dispatch, labels, labelNames, attributeGroups, size, readOnly, save, other }: ShellSetup) {
  const [help, setHelp] = useState(false);
  const [spaceHeld, setSpaceHeld] = useState(false);
  const stage = useRef<HTMLDivElement>(null);
  const svg = useRef<SVGSVGElement>(null);

  // The props the reducer works with, before the browser paints (and so before any input) with new ones.
  const { width, height } = size;
  const labelsKey = labelNames.join("\n");
  const groupsKey = JSON.stringify(attributeGroups);
  useLayoutEffect(() => {
    dispatch({ type: "configure", size: { width, height }, readOnly, labels: labelNames, attributeGroups });
  }, [width, height, readOnly, labelsKey, groupsKey]); // the contents, not the arrays: callers may pass new ones each render

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

  useShortcuts({ dispatch, save, setHelp, setSpaceHeld, other });
  const handlers = useCanvasInput(svg, dispatch, spaceHeld);

  const colours = useMemo(() => new Map(labels.map((l) => [l.name, l.colour])), [labels]);
  const colourOf = useCallback((name: string) => colours.get(name) ?? FALLBACK_COLOUR, [colours]);
  return { help, setHelp, spaceHeld, stage, svg, handlers, colourOf };
}
