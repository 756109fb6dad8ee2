import { describe, expect, it } from "vitest";

import { formatDuration } from "./time";

describe("formatDuration", () => {
  it("reads as m:ss, h:mm:ss from an hour, with tenths under ten seconds", () => {
    expect(formatDuration(4.8)).toBe("0:04.8");
    expect(formatDuration(65.9)).toBe("1:05");
    expect(formatDuration(3723)).toBe("1:02:03");
    expect(formatDuration(Number.NaN)).toBe("–");
  });
});
