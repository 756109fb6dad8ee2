/**
 * The annotation editor: an image with zoom and pan, and SVG shapes drawn and edited on it (box, polygon,
 * line, point), tags, attributes, undo/redo and keyboard shortcuts. Geometry and history are pure modules
 * (geometry.ts, history.ts); this file turns pointer and key events into their operations.
 */
import {
  type MouseEvent as ReactMouseEvent,
  type PointerEvent as ReactPointerEvent,
  type ReactNode,
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";

import type { AttributeGroup, LabelSpec } from "../api/types";
import { Dialog } from "../components/common";
import {
  HANDLES,
  type Handle,
  type Pt,
  type Size,
  type View,
  boxFromDrag,
  closesPolygon,
  enoughPoints,
  fit,
  handlePosition,
  insertVertex,
  moveVertex,
  pan,
  removeVertex,
  resizeBox,
  toImage,
  translate,
  wheelZoomFactor,
  zoomAt,
  MIN_POINTS,
} from "./geometry";
import { type History, canRedo, canUndo, commit, createHistory, redo, replace, undo } from "./history";
import { type Shape, DRAWN_KINDS, describe, newShape } from "./instances";
import { SHORTCUTS, type Tool, commandFor } from "./shortcuts";

export interface Layer {
  id: string;
  title: string;
  shapes: Shape[];
}

export interface PrimaryAction {
  label: string;
  busy: boolean;
  run: (shapes: Shape[]) => void;
}

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

type Drag =
  | { kind: "pan"; last: Pt }
  | { kind: "move"; key: string; start: Pt; base: Shape[] }
  | { kind: "resize"; key: string; handle: Handle; base: Shape[] }
  | { kind: "vertex"; key: string; index: number; base: Shape[] }
  | { kind: "box"; start: Pt; current: Pt };

const TOOL_NAMES: Record<Tool, string> = {
  select: "Select",
  box: "Box",
  polygon: "Polygon",
  line: "Line",
  point: "Point",
};
const TOOL_KEYS: Record<Tool, string> = { select: "V", box: "B", polygon: "P", line: "L", point: "O" };
const FALLBACK_COLOUR = "#9aa0a6";
const LAYER_COLOURS = ["#ff00ff", "#00c8ff", "#ffd000", "#7cff00", "#ff6a00"];

function typingIn(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
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
  const [history, setHistory] = useState<History<Shape[]>>(() => createHistory(initial));
  const [baseline, setBaseline] = useState<Shape[]>(initial);
  const [selected, setSelected] = useState<string | null>(null);
  const [tool, setTool] = useState<Tool>("select");
  const [label, setLabel] = useState<string>(labels[0]?.name ?? "");
  const [draft, setDraft] = useState<Pt[]>([]);
  const [hover, setHover] = useState<Pt | null>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const [view, setView] = useState<View>({ scale: 1, x: 0, y: 0 });
  const [viewport, setViewport] = useState<Size>({ width: 0, height: 0 });
  const [help, setHelp] = useState(false);
  const [visibleLayers, setVisibleLayers] = useState<Set<string>>(() => new Set(layers.map((l) => l.id)));
  const [spaceHeld, setSpaceHeld] = useState(false);
  const fitted = useRef(false);
  const container = useRef<HTMLDivElement>(null);
  const svg = useRef<SVGSVGElement>(null);
  const shapes = history.present;

  // Start over when the caller loads another version.
  useEffect(() => {
    setHistory(createHistory(initial));
    setBaseline(initial);
    setSelected(null);
    setDraft([]);
  }, [resetKey]); // `initial` belongs to that key: a new array for the same key must not discard edits

  useEffect(() => {
    if (!labels.some((l) => l.name === label) && labels[0]) {
      setLabel(labels[0].name);
    }
  }, [labels, label]);

  const dirty = shapes !== baseline;
  useEffect(() => onChange?.(shapes, dirty), [shapes, dirty, onChange]);

  const colours = useMemo(() => new Map(labels.map((l) => [l.name, l.colour])), [labels]);
  const colourOf = (name: string) => colours.get(name) ?? FALLBACK_COLOUR;

  // Viewport size, and the first fit once both sizes are known.
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setViewport({ width: entry.contentRect.width, height: entry.contentRect.height });
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    if (!fitted.current && viewport.width > 0 && imageSize.width > 0) {
      setView(fit(imageSize, viewport));
      fitted.current = true;
    }
  }, [viewport, imageSize]);

  const update = useCallback((next: Shape[]) => setHistory((h) => commit(h, next)), []);
  const selectedShape = shapes.find((s) => s.key === selected) ?? null;

  function screenPoint(event: { clientX: number; clientY: number }): Pt {
    const rect = svg.current?.getBoundingClientRect();
    return { x: event.clientX - (rect?.left ?? 0), y: event.clientY - (rect?.top ?? 0) };
  }

  function imagePoint(event: { clientX: number; clientY: number }): Pt {
    return toImage(view, screenPoint(event));
  }

  function withShape(key: string, change: (shape: Shape) => Shape, base: Shape[] = shapes): Shape[] {
    return base.map((s) => (s.key === key ? change(s) : s));
  }

  function finishDraft() {
    const kind = tool === "polygon" || tool === "line" ? tool : null;
    if (kind && enoughPoints(kind, draft) && label) {
      const shape = newShape(kind, label, draft);
      update([...shapes, shape]);
      setSelected(shape.key);
    }
    setDraft([]);
  }

  function addTag() {
    if (!label || shapes.some((s) => s.kind === "tag" && s.name === label)) return;
    update([...shapes, newShape("tag", label, [])]);
  }

  function removeShape(key: string) {
    update(shapes.filter((s) => s.key !== key));
    if (selected === key) setSelected(null);
  }

  function chooseLabel(name: string) {
    setLabel(name);
    if (selectedShape && !readOnly && DRAWN_KINDS.includes(selectedShape.kind) && selectedShape.name !== name) {
      update(withShape(selectedShape.key, (s) => ({ ...s, name })));
    }
  }

  function zoom(factor: number) {
    setView((v) => zoomAt(v, factor, { x: viewport.width / 2, y: viewport.height / 2 }));
  }

  // --- keyboard -------------------------------------------------------------------------------------------
  const keyHandler = useRef<(event: KeyboardEvent) => void>(() => undefined);
  keyHandler.current = (event: KeyboardEvent) => {
    if (event.key === " " && !typingIn(event.target)) {
      setSpaceHeld(event.type === "keydown");
      event.preventDefault();
      return;
    }
    if (event.type !== "keydown" || typingIn(event.target)) return;
    const command = commandFor(event);
    if (!command) return;
    const editing = !readOnly;
    switch (command.type) {
      case "tool":
        if (editing || command.tool === "select") {
          setTool(command.tool);
          setDraft([]);
        }
        break;
      case "label": {
        const target = labels[command.index];
        if (target) chooseLabel(target.name);
        break;
      }
      case "tag":
        if (editing) addTag();
        break;
      case "undo":
        if (editing) setHistory(undo);
        break;
      case "redo":
        if (editing) setHistory(redo);
        break;
      case "save":
        if (primary && !primary.busy) primary.run(shapes);
        break;
      case "delete":
        if (!editing) break;
        if (draft.length > 0) setDraft((d) => d.slice(0, -1));
        else if (selected) removeShape(selected);
        break;
      case "finish":
        finishDraft();
        break;
      case "cancel":
        if (draft.length > 0) setDraft([]);
        else setSelected(null);
        setHelp(false);
        break;
      case "zoom":
        zoom(command.factor);
        break;
      case "fit":
        setView(fit(imageSize, viewport));
        break;
      case "nudge":
        if (editing && selectedShape && selectedShape.points.length > 0) {
          update(withShape(selectedShape.key, (s) => ({ ...s, points: translate(s.points, command.dx, command.dy, imageSize) })));
        } else break;
        break;
      case "next-shape": {
        const drawn = shapes.filter((s) => s.points.length > 0);
        if (drawn.length === 0) break;
        const index = drawn.findIndex((s) => s.key === selected);
        setSelected(drawn[(index + 1) % drawn.length]?.key ?? null);
        break;
      }
      case "help":
        setHelp((h) => !h);
        break;
    }
    event.preventDefault();
  };
  useEffect(() => {
    const listener = (event: KeyboardEvent) => keyHandler.current(event);
    window.addEventListener("keydown", listener);
    window.addEventListener("keyup", listener);
    return () => {
      window.removeEventListener("keydown", listener);
      window.removeEventListener("keyup", listener);
    };
  }, []);

  // --- wheel: scroll pans, Ctrl+wheel / pinch zooms (a native listener: React's wheel is passive) -------------
  useEffect(() => {
    const element = svg.current;
    if (!element) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const rect = element.getBoundingClientRect();
      const at = { x: event.clientX - rect.left, y: event.clientY - rect.top };
      if (event.ctrlKey || event.metaKey) {
        setView((v) => zoomAt(v, wheelZoomFactor(event.deltaY, event.deltaMode), at));
      } else {
        setView((v) => pan(v, -event.deltaX, -event.deltaY));
      }
    };
    element.addEventListener("wheel", onWheel, { passive: false });
    return () => element.removeEventListener("wheel", onWheel);
  }, []);

  // --- pointer ---------------------------------------------------------------------------------------------
  function onPointerDown(event: ReactPointerEvent<SVGSVGElement>) {
    const target = event.target as SVGElement;
    const data = target.dataset;
    const panning = event.button === 1 || spaceHeld || (event.button === 0 && event.altKey);
    if (event.button !== 0 && event.button !== 1) return;
    svg.current?.setPointerCapture(event.pointerId);
    const p = imagePoint(event);
    if (panning) {
      setDrag({ kind: "pan", last: screenPoint(event) });
      return;
    }
    if (readOnly || tool === "select") {
      const key = data.shape;
      if (!readOnly && key && data.handle) {
        setSelected(key);
        setDrag({ kind: "resize", key, handle: data.handle as Handle, base: shapes });
      } else if (!readOnly && key && data.vertex !== undefined) {
        setSelected(key);
        setDrag({ kind: "vertex", key, index: Number(data.vertex), base: shapes });
      } else if (key && data.layer === undefined) {
        setSelected(key);
        if (!readOnly) setDrag({ kind: "move", key, start: p, base: shapes });
      } else {
        setSelected(null);
        setDrag({ kind: "pan", last: screenPoint(event) });
      }
      return;
    }
    if (!label) return;
    if (tool === "box") {
      setDrag({ kind: "box", start: p, current: p });
    } else if (tool === "point") {
      const shape = newShape("point", label, [clampToImage(p)]);
      update([...shapes, shape]);
      setSelected(shape.key);
    } else if (tool === "polygon" || tool === "line") {
      if (tool === "polygon" && closesPolygon(draft, p, 8 / view.scale)) {
        finishDraft();
      } else {
        setDraft((d) => [...d, clampToImage(p)]);
      }
    }
  }

  function clampToImage(p: Pt): Pt {
    return {
      x: Math.round(Math.min(imageSize.width, Math.max(0, p.x)) * 100) / 100,
      y: Math.round(Math.min(imageSize.height, Math.max(0, p.y)) * 100) / 100,
    };
  }

  function onPointerMove(event: ReactPointerEvent<SVGSVGElement>) {
    const p = imagePoint(event);
    setHover(p);
    if (!drag) return;
    switch (drag.kind) {
      case "pan": {
        const now = screenPoint(event);
        setView((v) => pan(v, now.x - drag.last.x, now.y - drag.last.y));
        setDrag({ ...drag, last: now });
        break;
      }
      case "move":
        setHistory((h) =>
          replace(
            h,
            withShape(
              drag.key,
              (s) => ({ ...s, points: translate(s.points, p.x - drag.start.x, p.y - drag.start.y, imageSize) }),
              drag.base,
            ),
          ),
        );
        break;
      case "resize":
        setHistory((h) =>
          replace(
            h,
            withShape(
              drag.key,
              (s) => ({ ...s, points: resizeBox(s.points as [Pt, Pt], drag.handle, p, imageSize) }),
              drag.base,
            ),
          ),
        );
        break;
      case "vertex":
        setHistory((h) =>
          replace(
            h,
            withShape(drag.key, (s) => ({ ...s, points: moveVertex(s.points, drag.index, p, imageSize) }), drag.base),
          ),
        );
        break;
      case "box":
        setDrag({ ...drag, current: p });
        break;
    }
  }

  function onPointerUp(event: ReactPointerEvent<SVGSVGElement>) {
    if (svg.current?.hasPointerCapture(event.pointerId)) {
      svg.current.releasePointerCapture(event.pointerId);
    }
    if (!drag) return;
    if (drag.kind === "box") {
      const box = boxFromDrag(drag.start, imagePoint(event), imageSize);
      if (box && label) {
        const shape = newShape("box", label, box);
        update([...shapes, shape]);
        setSelected(shape.key);
      }
    } else if (drag.kind === "move" || drag.kind === "resize" || drag.kind === "vertex") {
      setHistory((h) => commit(h, h.present, drag.base));
    }
    setDrag(null);
  }

  function onDoubleClick(event: ReactMouseEvent<SVGSVGElement>) {
    const data = (event.target as SVGElement).dataset;
    if (readOnly) return;
    if ((tool === "polygon" || tool === "line") && draft.length > 0) {
      finishDraft();
      return;
    }
    const key = data.shape;
    const shape = shapes.find((s) => s.key === key);
    if (!shape) return;
    if (data.vertex !== undefined) {
      const minimum = MIN_POINTS[shape.kind] ?? 1;
      update(withShape(shape.key, (s) => ({ ...s, points: removeVertex(s.points, Number(data.vertex), minimum) })));
    } else if (data.edge !== undefined) {
      update(
        withShape(shape.key, (s) => ({ ...s, points: insertVertex(s.points, Number(data.edge), imagePoint(event), imageSize) })),
      );
    }
  }

  // --- rendering -------------------------------------------------------------------------------------------
  const handleSize = 9 / view.scale;
  const selectedGroups = selectedShape
    ? attributeGroups.filter(
        (g) => g.scope !== "global" && (!g.label_names?.length || g.label_names.includes(selectedShape.name)),
      )
    : [];
  const globalGroups = attributeGroups.filter((g) => g.scope === "global");
  const globalShape = shapes.find((s) => s.kind === "global");
  const tags = shapes.filter((s) => s.kind === "tag");
  const listed = shapes.filter((s) => s.kind !== "tag" && s.kind !== "global");
  const cursor = drag?.kind === "pan" || spaceHeld ? "grabbing" : tool === "select" || readOnly ? "default" : "crosshair";

  function setAttribute(shape: Shape | null, group: string, value: unknown) {
    if (readOnly) return;
    const apply = (s: Shape): Shape => {
      const attributes = { ...s.attributes };
      if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) delete attributes[group];
      else attributes[group] = value;
      return { ...s, attributes };
    };
    if (shape) {
      update(withShape(shape.key, apply));
    } else {
      update([...shapes, apply(newShape("global", "global", []))]);
    }
  }

  return (
    <div className="editor">
      <div className="toolbar" role="toolbar" aria-label="Annotation tools">
        <div className="group" role="group" aria-label="Tools">
          {(Object.keys(TOOL_NAMES) as Tool[])
            .filter((t) => !readOnly || t === "select")
            .map((t) => (
              <button
                key={t}
                type="button"
                aria-pressed={tool === t}
                title={`${TOOL_NAMES[t]} (${TOOL_KEYS[t]})`}
                onClick={() => {
                  setTool(t);
                  setDraft([]);
                }}
              >
                {TOOL_NAMES[t]}
              </button>
            ))}
        </div>
        {!readOnly ? (
          <div className="group">
            <label>
              Label{" "}
              <select value={label} onChange={(e) => chooseLabel(e.target.value)} aria-label="Label">
                {labels.map((l, i) => (
                  <option key={l.name} value={l.name}>
                    {i < 9 ? `${i + 1} · ` : ""}
                    {l.name}
                  </option>
                ))}
              </select>
            </label>
            <span className="swatch" style={{ background: colourOf(label) }} aria-hidden="true" />
            <button type="button" onClick={addTag} title="Tag the file with this label (T)">
              Tag file
            </button>
          </div>
        ) : null}
        {!readOnly ? (
          <div className="group">
            <button type="button" onClick={() => setHistory(undo)} disabled={!canUndo(history)} title="Undo (Ctrl+Z)">
              Undo
            </button>
            <button type="button" onClick={() => setHistory(redo)} disabled={!canRedo(history)} title="Redo (Ctrl+Shift+Z)">
              Redo
            </button>
          </div>
        ) : null}
        <div className="group">
          <button type="button" onClick={() => zoom(0.8)} aria-label="Zoom out" title="Zoom out (−)">
            −
          </button>
          <span className="zoom" aria-label="Zoom level">
            {Math.round(view.scale * 100)}%
          </span>
          <button type="button" onClick={() => zoom(1.25)} aria-label="Zoom in" title="Zoom in (+)">
            +
          </button>
          <button type="button" onClick={() => setView(fit(imageSize, viewport))} title="Fit (0)">
            Fit
          </button>
          <button type="button" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts" title="Shortcuts (?)">
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
            onClick={() => primary.run(shapes)}
            title="Ctrl+S"
          >
            {primary.busy ? `${primary.label}…` : primary.label}
          </button>
        ) : null}
      </div>
      <div className="editor-body">
        <div className="stage" ref={container}>
          <svg
            ref={svg}
            className="canvas"
            role="application"
            aria-label="Image canvas"
            aria-roledescription="annotation canvas"
            style={{ cursor }}
            onPointerDown={onPointerDown}
            onPointerMove={onPointerMove}
            onPointerUp={onPointerUp}
            onPointerLeave={() => setHover(null)}
            onDoubleClick={onDoubleClick}
            onContextMenu={(e) => e.preventDefault()}
          >
            <g transform={`translate(${view.x} ${view.y}) scale(${view.scale})`}>
              {imageUrl ? (
                <image href={imageUrl} width={imageSize.width} height={imageSize.height} preserveAspectRatio="none" />
              ) : (
                <rect width={imageSize.width} height={imageSize.height} className="no-image" />
              )}
              {layers
                .filter((layer) => visibleLayers.has(layer.id))
                .map((layer, index) => (
                  <g key={layer.id} className="layer" data-layer={layer.id}>
                    {layer.shapes.map((shape) => (
                      <ShapeView
                        key={shape.key}
                        shape={shape}
                        colour={LAYER_COLOURS[index % LAYER_COLOURS.length] ?? FALLBACK_COLOUR}
                        selected={false}
                        editable={false}
                        handleSize={handleSize}
                        dashed
                        layer={layer.id}
                      />
                    ))}
                  </g>
                ))}
              {shapes.map((shape) => (
                <ShapeView
                  key={shape.key}
                  shape={shape}
                  colour={colourOf(shape.name)}
                  selected={shape.key === selected}
                  editable={!readOnly && tool === "select"}
                  handleSize={handleSize}
                />
              ))}
              {drag?.kind === "box" ? <DraftBox a={drag.start} b={drag.current} colour={colourOf(label)} /> : null}
              {draft.length > 0 ? (
                <polyline
                  className="draft"
                  points={[...draft, ...(hover ? [hover] : [])].map((p) => `${p.x},${p.y}`).join(" ")}
                  stroke={colourOf(label)}
                  fill="none"
                  vectorEffect="non-scaling-stroke"
                />
              ) : null}
              {draft.map((p, i) => (
                <circle key={i} cx={p.x} cy={p.y} r={handleSize / 2} className="draft-vertex" fill={colourOf(label)} />
              ))}
            </g>
          </svg>
          {draft.length > 0 ? (
            <p className="stage-hint" role="status">
              {tool === "polygon" ? "Click the first point or press Enter to close the polygon" : "Press Enter to finish the line"}
              ; Escape cancels.
            </p>
          ) : null}
        </div>
        <aside className="side" aria-label="Instances and attributes">
          {layers.length > 0 ? (
            <section aria-labelledby="layers-title">
              <h2 id="layers-title">Compare</h2>
              {layers.map((layer, index) => (
                <label key={layer.id} className="check">
                  <input
                    type="checkbox"
                    checked={visibleLayers.has(layer.id)}
                    onChange={(e) =>
                      setVisibleLayers((v) => {
                        const next = new Set(v);
                        if (e.target.checked) next.add(layer.id);
                        else next.delete(layer.id);
                        return next;
                      })
                    }
                  />
                  <span className="swatch" style={{ borderColor: LAYER_COLOURS[index % LAYER_COLOURS.length] }} />
                  {layer.title} ({layer.shapes.filter((s) => s.kind !== "global").length})
                </label>
              ))}
            </section>
          ) : null}
          <section aria-labelledby="instances-title">
            <h2 id="instances-title">Instances ({listed.length})</h2>
            {listed.length === 0 ? <p className="hint">None yet. Pick a tool and draw on the image.</p> : null}
            <ul className="instance-list" aria-label="Instances">
              {listed.map((shape) => (
                <li key={shape.key} className={shape.key === selected ? "selected" : undefined}>
                  <span className="swatch" style={{ background: colourOf(shape.name) }} aria-hidden="true" />
                  <button type="button" className="link" aria-pressed={shape.key === selected} onClick={() => setSelected(shape.key)}>
                    {describe(shape)}
                  </button>
                  {!readOnly ? (
                    <button type="button" className="icon" aria-label={`Delete ${describe(shape)}`} onClick={() => removeShape(shape.key)}>
                      ×
                    </button>
                  ) : null}
                </li>
              ))}
            </ul>
          </section>
          {selectedShape && selectedGroups.length > 0 ? (
            <section aria-labelledby="attributes-title">
              <h2 id="attributes-title">Attributes of {describe(selectedShape)}</h2>
              {selectedGroups.map((group) => (
                <AttributeField
                  key={`${selectedShape.key}:${group.name}`}
                  group={group}
                  value={selectedShape.attributes[group.name]}
                  disabled={readOnly}
                  onChange={(value) => setAttribute(selectedShape, group.name, value)}
                />
              ))}
            </section>
          ) : null}
          <section aria-labelledby="tags-title">
            <h2 id="tags-title">Tags</h2>
            {tags.length === 0 ? (
              <p className="hint">{readOnly ? "No tags." : "No tags. “Tag file” (T) adds the current label."}</p>
            ) : null}
            <ul className="tags">
              {tags.map((tag) => (
                <li key={tag.key}>
                  <span className="swatch" style={{ background: colourOf(tag.name) }} aria-hidden="true" />
                  {tag.name}
                  {!readOnly ? (
                    <button type="button" className="icon" aria-label={`Remove tag ${tag.name}`} onClick={() => removeShape(tag.key)}>
                      ×
                    </button>
                  ) : null}
                </li>
              ))}
            </ul>
          </section>
          {globalGroups.length > 0 ? (
            <section aria-labelledby="file-attributes-title">
              <h2 id="file-attributes-title">File attributes</h2>
              {globalGroups.map((group) => (
                <AttributeField
                  key={`global:${group.name}:${globalShape?.key ?? ""}`}
                  group={group}
                  value={globalShape?.attributes[group.name]}
                  disabled={readOnly}
                  onChange={(value) => setAttribute(globalShape ?? null, group.name, value)}
                />
              ))}
            </section>
          ) : null}
        </aside>
      </div>
      <Dialog title="Keyboard shortcuts" open={help} onClose={() => setHelp(false)}>
        <table className="shortcuts">
          <tbody>
            {SHORTCUTS.map((s) => (
              <tr key={s.keys}>
                <th scope="row">
                  <kbd>{s.keys}</kbd>
                </th>
                <td>{s.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="hint">Double-click a vertex to delete it, or a polygon or line edge to add one. Hold Space and drag to pan.</p>
      </Dialog>
    </div>
  );
}

function DraftBox({ a, b, colour }: { a: Pt; b: Pt; colour: string }) {
  return (
    <rect
      className="draft"
      x={Math.min(a.x, b.x)}
      y={Math.min(a.y, b.y)}
      width={Math.abs(a.x - b.x)}
      height={Math.abs(a.y - b.y)}
      stroke={colour}
      fill="none"
      vectorEffect="non-scaling-stroke"
    />
  );
}

function ShapeView({
  shape,
  colour,
  selected,
  editable,
  handleSize,
  dashed = false,
  layer,
}: {
  shape: Shape;
  colour: string;
  selected: boolean;
  editable: boolean;
  handleSize: number;
  dashed?: boolean;
  layer?: string;
}) {
  const common = {
    "data-shape": shape.key,
    "data-layer": layer,
    stroke: colour,
    strokeWidth: selected ? 3 : 2,
    strokeDasharray: dashed ? "6 4" : undefined,
    vectorEffect: "non-scaling-stroke" as const,
    className: `shape ${shape.kind}${selected ? " selected" : ""}`,
  };
  const label = `${shape.kind} ${shape.name}`;
  if (shape.kind === "box") {
    const [min, max] = shape.points as [Pt, Pt];
    const box: [Pt, Pt] = [min, max];
    return (
      <g aria-label={label}>
        <rect
          {...common}
          x={min.x}
          y={min.y}
          width={max.x - min.x}
          height={max.y - min.y}
          fill={colour}
          fillOpacity={selected ? 0.25 : 0.08}
        />
        {selected && editable
          ? HANDLES.map((handle) => {
              const at = handlePosition(box, handle);
              return (
                <rect
                  key={handle}
                  className={`handle ${handle}`}
                  data-shape={shape.key}
                  data-handle={handle}
                  x={at.x - handleSize / 2}
                  y={at.y - handleSize / 2}
                  width={handleSize}
                  height={handleSize}
                />
              );
            })
          : null}
      </g>
    );
  }
  if (shape.kind === "polygon" || shape.kind === "line") {
    const points = shape.points.map((p) => `${p.x},${p.y}`).join(" ");
    const closed = shape.kind === "polygon";
    const edges = shape.points.map((p, i) => [p, shape.points[(i + 1) % shape.points.length] as Pt] as const);
    return (
      <g aria-label={label}>
        {closed ? (
          <polygon {...common} points={points} fill={colour} fillOpacity={selected ? 0.25 : 0.08} />
        ) : (
          <polyline {...common} points={points} fill="none" />
        )}
        {selected && editable
          ? (closed ? edges : edges.slice(0, -1)).map(([a, b], i) => (
              <line
                key={`e${i}`}
                className="edge"
                data-shape={shape.key}
                data-edge={i}
                x1={a.x}
                y1={a.y}
                x2={b.x}
                y2={b.y}
                strokeWidth={handleSize}
              />
            ))
          : null}
        {selected && editable
          ? shape.points.map((p, i) => (
              <circle key={i} className="vertex" data-shape={shape.key} data-vertex={i} cx={p.x} cy={p.y} r={handleSize / 2} />
            ))
          : null}
      </g>
    );
  }
  if (shape.kind === "point") {
    const p = shape.points[0];
    if (!p) return null;
    return (
      <g aria-label={label}>
        <circle {...common} cx={p.x} cy={p.y} r={handleSize * 0.6} fill={colour} fillOpacity={0.9} />
      </g>
    );
  }
  return null;
}

function AttributeField({
  group,
  value,
  disabled,
  onChange,
}: {
  group: AttributeGroup;
  value: unknown;
  disabled: boolean;
  onChange: (value: unknown) => void;
}) {
  const options = group.options ?? [];
  const title = `${group.name}${group.required ? " (required)" : ""}`;
  switch (group.kind) {
    case "select":
      return (
        <label className="field">
          {title}
          <select value={typeof value === "string" ? value : ""} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
            <option value="">—</option>
            {options.map((option) => (
              <option key={option}>{option}</option>
            ))}
          </select>
        </label>
      );
    case "tree": {
      const current = Array.isArray(value) ? value.join("/") : typeof value === "string" ? value : "";
      return (
        <label className="field">
          {title}
          <select value={current} disabled={disabled} onChange={(e) => onChange(e.target.value ? e.target.value.split("/") : undefined)}>
            <option value="">—</option>
            {options.map((option) => (
              <option key={option} value={option}>
                {"\u00a0\u00a0".repeat(option.split("/").length - 1)}
                {option.split("/").pop()}
              </option>
            ))}
          </select>
        </label>
      );
    }
    case "radio":
      return (
        <fieldset className="field" disabled={disabled}>
          <legend>{title}</legend>
          {options.map((option) => (
            <label key={option} className="check">
              <input type="radio" name={group.name} checked={value === option} onChange={() => onChange(option)} />
              {option}
            </label>
          ))}
        </fieldset>
      );
    case "multi_select": {
      const chosen = Array.isArray(value) ? (value as string[]) : [];
      return (
        <fieldset className="field" disabled={disabled}>
          <legend>{title}</legend>
          {options.map((option) => (
            <label key={option} className="check">
              <input
                type="checkbox"
                checked={chosen.includes(option)}
                onChange={(e) => onChange(e.target.checked ? [...chosen, option] : chosen.filter((c) => c !== option))}
              />
              {option}
            </label>
          ))}
        </fieldset>
      );
    }
    case "number":
      return (
        <BufferedInput
          title={title}
          type="number"
          min={group.min ?? undefined}
          max={group.max ?? undefined}
          disabled={disabled}
          value={typeof value === "number" ? String(value) : ""}
          onCommit={(text) => onChange(text === "" ? undefined : Number(text))}
        />
      );
    case "date":
      return (
        <label className="field">
          {title}
          <input
            type="date"
            disabled={disabled}
            value={typeof value === "string" ? value : ""}
            onChange={(e) => onChange(e.target.value || undefined)}
          />
        </label>
      );
    default:
      return (
        <BufferedInput
          title={title}
          type="text"
          disabled={disabled}
          value={typeof value === "string" ? value : ""}
          onCommit={(text) => onChange(text || undefined)}
        />
      );
  }
}

/** A text or number input that records one undo step when left (or on Enter), not one per keystroke. */
function BufferedInput({
  title,
  type,
  value,
  disabled,
  min,
  max,
  onCommit,
}: {
  title: string;
  type: "text" | "number";
  value: string;
  disabled: boolean;
  min?: number;
  max?: number;
  onCommit: (value: string) => void;
}) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const commitText = () => {
    if (text !== value) onCommit(text);
  };
  return (
    <label className="field">
      {title}
      <input
        type={type}
        value={text}
        min={min}
        max={max}
        disabled={disabled}
        onChange={(e) => setText(e.target.value)}
        onBlur={commitText}
        onKeyDown={(e) => {
          if (e.key === "Enter") commitText();
        }}
      />
    </label>
  );
}
