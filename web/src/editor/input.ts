/**
 * The editor's input: key presses anywhere in the window (the shortcuts of shortcuts.ts, Space held to pan), the
 * wheel, and the canvas's pointer events, turned into reducer actions (reducer.ts).
 */
import {
  type Dispatch,
  type MouseEvent as ReactMouseEvent,
  type PointerEvent as ReactPointerEvent,
  type RefObject,
  type SetStateAction,
  useEffect,
  useRef,
} from "react";

import { type Handle, type Pt, wheelZoomFactor } from "./geometry";
import type { Hit } from "./pointer";
import type { EditorAction } from "./reducer";
import { type Command, commandFor } from "./shortcuts";

/** Whether a key press belongs to a form field (the attribute inputs, the label select), not to the editor. */
export function typingIn(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

/** The reducer action of a shortcut; null for those the editor handles itself (save, help) and the video's. */
export function actionFor(command: Command): EditorAction | null {
  switch (command.type) {
    case "tool":
      return { type: "tool", tool: command.tool };
    case "label":
      return { type: "label-at", index: command.index };
    case "zoom":
      return { type: "zoom", factor: command.factor };
    case "nudge":
      return { type: "nudge", dx: command.dx, dy: command.dy };
    case "next-shape":
      return { type: "select-next" };
    case "tag":
    case "undo":
    case "redo":
    case "delete":
    case "finish":
    case "cancel":
    case "fit":
      return { type: command.type };
    case "save":
    case "help":
    case "frame":
    case "frame-edge":
    case "play":
    case "outside":
      return null;
  }
}

interface Keys {
  dispatch: Dispatch<EditorAction>;
  /** the Save or Submit button's action, run by Ctrl+S */
  save: (() => void) | null;
  setHelp: Dispatch<SetStateAction<boolean>>;
  setSpaceHeld: (held: boolean) => void;
  /** the commands the image editor has no action for (the video editor's); true when handled */
  other?: (command: Command) => boolean;
}

/** Listens to the window's key presses while the editor is shown. */
export function useShortcuts(keys: Keys): void {
  const latest = useRef(keys);
  latest.current = keys;
  useEffect(() => {
    const listener = (event: KeyboardEvent) => {
      const { dispatch, save, setHelp, setSpaceHeld, other } = latest.current;
      if (event.key === " " && !typingIn(event.target)) {
        setSpaceHeld(event.type === "keydown");
        event.preventDefault();
        return;
      }
      if (event.type !== "keydown" || typingIn(event.target)) return;
      const command = commandFor(event);
      if (!command) return;
      if (command.type === "save") save?.();
      if (command.type === "help") setHelp((shown) => !shown);
      if (command.type === "cancel") setHelp(false);
      const action = actionFor(command);
      if (action) dispatch(action);
      else if (command.type !== "save" && command.type !== "help" && !other?.(command)) return;
      event.preventDefault();
    };
    window.addEventListener("keydown", listener);
    window.addEventListener("keyup", listener);
    return () => {
      window.removeEventListener("keydown", listener);
      window.removeEventListener("keyup", listener);
    };
  }, []);
}

function hitOf(target: EventTarget): Hit {
  const data = (target as SVGElement).dataset;
  return {
    shape: data.shape,
    handle: data.handle as Handle | undefined,
    vertex: data.vertex === undefined ? undefined : Number(data.vertex),
    edge: data.edge === undefined ? undefined : Number(data.edge),
    layer: data.layer,
  };
}

export interface CanvasHandlers {
  onPointerDown: (event: ReactPointerEvent<SVGSVGElement>) => void;
  onPointerMove: (event: ReactPointerEvent<SVGSVGElement>) => void;
  onPointerUp: (event: ReactPointerEvent<SVGSVGElement>) => void;
  onPointerLeave: () => void;
  onDoubleClick: (event: ReactMouseEvent<SVGSVGElement>) => void;
  onContextMenu: (event: ReactMouseEvent<SVGSVGElement>) => void;
}

/**
 * The canvas's pointer handlers, and its wheel: scroll pans, Ctrl+wheel (or a pinch) zooms at the pointer. The
 * wheel is a native listener because React's is passive and cannot keep the page from scrolling.
 */
export function useCanvasInput(
  svg: RefObject<SVGSVGElement | null>,
  dispatch: Dispatch<EditorAction>,
  spaceHeld: boolean,
): CanvasHandlers {
  useEffect(() => {
    const element = svg.current;
    if (!element) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const rect = element.getBoundingClientRect();
      const at = { x: event.clientX - rect.left, y: event.clientY - rect.top };
      if (event.ctrlKey || event.metaKey) {
        dispatch({ type: "zoom", factor: wheelZoomFactor(event.deltaY, event.deltaMode), at });
      } else {
        dispatch({ type: "pan", dx: -event.deltaX, dy: -event.deltaY });
      }
    };
    element.addEventListener("wheel", onWheel, { passive: false });
    return () => element.removeEventListener("wheel", onWheel);
  }, [svg, dispatch]);

  function screenPoint(event: { clientX: number; clientY: number }): Pt {
    const rect = svg.current?.getBoundingClientRect();
    return { x: event.clientX - (rect?.left ?? 0), y: event.clientY - (rect?.top ?? 0) };
  }

  return {
    onPointerDown(event) {
      if (event.button !== 0 && event.button !== 1) return;
      svg.current?.setPointerCapture(event.pointerId);
      const panning = event.button === 1 || spaceHeld || (event.button === 0 && event.altKey);
      dispatch({ type: "pointer-down", at: screenPoint(event), hit: hitOf(event.target), pan: panning });
    },
    onPointerMove(event) {
      dispatch({ type: "pointer-move", at: screenPoint(event) });
    },
    onPointerUp(event) {
      if (svg.current?.hasPointerCapture(event.pointerId)) {
        svg.current.releasePointerCapture(event.pointerId);
      }
      dispatch({ type: "pointer-up", at: screenPoint(event) });
    },
    onPointerLeave() {
      dispatch({ type: "pointer-leave" });
    },
    onDoubleClick(event) {
      dispatch({ type: "double-click", at: screenPoint(event), hit: hitOf(event.target) });
    },
    onContextMenu(event) {
      event.preventDefault();
    },
  };
}

