import { describe, expect, it } from "vitest";

import { MAX_PAGE, PAGE, nextPageSize } from "./files";

describe("nextPageSize", () => {
  it("asks for a page while the person scrolls within reach", () => {
    expect(nextPageSize(100, 0)).toBe(PAGE);
    expect(nextPageSize(100, 140)).toBe(PAGE);
    expect(nextPageSize(300, 200)).toBe(PAGE);
  });

  it("asks for whole pages enough to reach a file far ahead, at most the API's limit", () => {
    expect(nextPageSize(100, 450)).toBe(400);
    expect(nextPageSize(100, 401)).toBe(400);
    expect(nextPageSize(100, 3096)).toBe(MAX_PAGE);
    expect(nextPageSize(2100, 3096)).toBe(1000);
    expect(nextPageSize(3100, 3096)).toBe(PAGE);
  });
});
