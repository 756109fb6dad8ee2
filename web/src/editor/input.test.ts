import { describe, expect, it } from "vitest";

import { actionFor } from "./input";
import { commandFor } from "./shortcuts";

const key = (k: string, mods: Partial<{ ctrlKey: boolean; shiftKey: boolean }> = {}) =>
  commandFor({ key: k, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, ...mods });

function actionOf(k: string, mods: Partial<{ ctrlKey: boolean; shiftKey: boolean }> = {}) {
  const command = key(k, mods);
  return command ? actionFor(command) : undefined;
}

describe("shortcut actions", () => {
  it("turns each shortcut into its reducer action", () => {
    expect(actionOf("b")).toEqual({ type: "tool", tool: "box" });
    expect(actionOf("2")).toEqual({ type: "label-at", index: 1 });
    expect(actionOf("ArrowLeft", { shiftKey: true })).toEqual({ type: "nudge", dx: -10, dy: 0 });
    expect(actionOf("Tab")).toEqual({ type: "select-next" });
    expect(actionOf("z", { ctrlKey: true, shiftKey: true })).toEqual({ type: "redo" });
    expect(actionOf("Backspace")).toEqual({ type: "delete" });
    expect(actionOf("+")).toEqual({ type: "zoom", factor: 1.25 });
    expect(actionOf("0")).toEqual({ type: "fit" });
  });

  it("leaves saving and the help overlay to the editor", () => {
    expect(actionOf("s", { ctrlKey: true })).toBeNull();
    expect(actionOf("?")).toBeNull();
  });
});
