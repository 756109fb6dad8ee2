import { describe, expect, it } from "vitest";

import { SHORTCUTS, commandFor } from "./shortcuts";

const press = (key: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; shiftKey: boolean; altKey: boolean }> = {}) =>
  commandFor({ key, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...mods });

describe("shortcuts", () => {
  it("maps tools, labels and editing keys", () => {
    expect(press("b")).toEqual({ type: "tool", tool: "box" });
    expect(press("P", { shiftKey: true })).toEqual({ type: "tool", tool: "polygon" });
    expect(press("3")).toEqual({ type: "label", index: 2 });
    expect(press("Delete")).toEqual({ type: "delete" });
    expect(press("Enter")).toEqual({ type: "finish" });
    expect(press("?", { shiftKey: true })).toEqual({ type: "help" });
    expect(press("ArrowLeft", { shiftKey: true })).toEqual({ type: "nudge", dx: -10, dy: 0 });
  });

  it("maps undo, redo and save with Ctrl or Cmd", () => {
    expect(press("z", { ctrlKey: true })).toEqual({ type: "undo" });
    expect(press("Z", { metaKey: true, shiftKey: true })).toEqual({ type: "redo" });
    expect(press("y", { ctrlKey: true })).toEqual({ type: "redo" });
    expect(press("s", { metaKey: true })).toEqual({ type: "save" });
    expect(press("b", { ctrlKey: true })).toBeNull();
    expect(press("b", { altKey: true })).toBeNull();
    expect(press("x")).toBeNull();
  });
});

describe("video shortcuts", () => {
  it("steps, jumps, plays and marks outside", () => {
    expect(press(",")).toEqual({ type: "frame", delta: -1 });
    expect(press(".")).toEqual({ type: "frame", delta: 1 });
    expect(press(">", { shiftKey: true })).toEqual({ type: "frame", delta: 10 });
    expect(press("End")).toEqual({ type: "frame-edge", last: true });
    expect(press("K", { shiftKey: true })).toEqual({ type: "play" });
    expect(press("h")).toEqual({ type: "outside" });
  });
});

describe("the help table", () => {
  it("names each key once per editor: T tags the file in images, frames in videos", () => {
    for (const video of [false, true]) {
      const shown = SHORTCUTS.filter((s) => (video ? !s.image : !s.video));
      expect(new Set(shown.map((s) => s.keys)).size).toBe(shown.length);
      const t = shown.find((s) => s.keys === "T");
      expect(t?.description).toMatch(video ? /Frame tag/ : /Tag the file/);
    }
  });
});
