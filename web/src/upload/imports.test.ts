import { describe, expect, it } from "vitest";

import { importStatus } from "./imports";

const job = { status: "running", awaiting_videos: false, total: 10, done: 4, failed: 1 };

describe("an import's status in words", () => {
  it("says what it waits for once the run has ended and videos are with the video ingest", () => {
    expect(importStatus({ ...job, awaiting_videos: true })).toBe("waiting for 5 videos");
    expect(importStatus({ ...job, awaiting_videos: true, done: 8 })).toBe("waiting for 1 video");
    // the counts already agree (a result on its way): no number to give
    expect(importStatus({ ...job, awaiting_videos: true, done: 9 })).toBe("waiting for the video ingest");
  });

  it("is the API's status otherwise (an older API leaves the flag out)", () => {
    expect(importStatus(job)).toBe("running");
    const { awaiting_videos: _flag, ...older } = job;
    expect(importStatus(older)).toBe("running");
    expect(importStatus({ ...job, status: "completed_with_errors", done: 9 })).toBe("completed_with_errors");
  });
});
