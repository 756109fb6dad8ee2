import { describe, expect, it } from "vitest";

import { HISTORY_LIMIT, canRedo, canUndo, commit, createHistory, redo, replace, undo } from "./history";

describe("undo and redo", () => {
  it("undoes and redoes commits in order", () => {
    let history = createHistory(["a"]);
    history = commit(history, ["a", "b"]);
    history = commit(history, ["a", "b", "c"]);
    history = undo(history);
    expect(history.present).toEqual(["a", "b"]);
    history = undo(history);
    expect(history.present).toEqual(["a"]);
    expect(canUndo(history)).toBe(false);
    expect(undo(history)).toBe(history);
    history = redo(redo(history));
    expect(history.present).toEqual(["a", "b", "c"]);
    expect(canRedo(history)).toBe(false);
  });

  it("forgets the redo branch after a new edit", () => {
    let history = commit(commit(createHistory(0), 1), 2);
    history = commit(undo(history), 5);
    expect(history.present).toBe(5);
    expect(canRedo(history)).toBe(false);
    expect(undo(history).present).toBe(1);
  });

  it("makes a whole drag one step: replace while dragging, commit from the state before", () => {
    const start = createHistory({ x: 0 });
    const base = start.present;
    let history = replace(start, { x: 1 });
    history = replace(history, { x: 2 });
    history = commit(history, { x: 3 }, base);
    expect(history.past).toEqual([{ x: 0 }]);
    expect(undo(history).present).toEqual({ x: 0 });
  });

  it("records nothing for a commit that changes nothing, and keeps a bounded past", () => {
    const start = createHistory("same");
    expect(canUndo(commit(start, start.present))).toBe(false);
    let history = createHistory(0);
    for (let i = 1; i <= HISTORY_LIMIT + 50; i += 1) {
      history = commit(history, i);
    }
    expect(history.past).toHaveLength(HISTORY_LIMIT);
  });
});
