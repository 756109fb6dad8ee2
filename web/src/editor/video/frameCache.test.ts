import { describe, expect, it } from "vitest";

import { FrameCache } from "./frameCache";

function loader() {
  const asked: number[] = [];
  const pending = new Map<number, (blob: Blob) => void>();
  const load = (frame: number) => {
    asked.push(frame);
    return new Promise<Blob>((resolve) => pending.set(frame, resolve));
  };
  const answer = async (frame: number) => {
    pending.get(frame)?.(new Blob([String(frame)]));
    pending.delete(frame);
    await new Promise((r) => setTimeout(r, 0));
  };
  return { asked, pending, load, answer };
}

describe("the frame cache", () => {
  it("fetches the frame first, then a few ahead, a bounded number at once", async () => {
    const { asked, load, answer } = loader();
    const revoked: string[] = [];
    const cache = new FrameCache(load, 100, {
      concurrency: 2,
      capacity: 3,
      toUrl: (b) => `u${b.size}-${asked.length}`,
      revoke: (u) => revoked.push(u),
    });
    cache.want(10, 4);
    expect(asked).toEqual([10, 11]);
    await answer(10);
    expect(cache.url(10)).toBeDefined();
    expect(asked).toEqual([10, 11, 12]);
    await answer(11);
    await answer(12);
    await answer(13);
    await answer(14);
    expect(asked).toEqual([10, 11, 12, 13, 14]);
    // capacity 3: the frames farthest from 10 went first
    expect([10, 11, 12, 13, 14].filter((n) => cache.url(n) !== undefined)).toEqual([10, 11, 12]);
    expect(revoked).toHaveLength(2);
  });

  it("drops what was queued for another frame and never fetches past the last frame", async () => {
    const { asked, load, answer } = loader();
    const cache = new FrameCache(load, 50, { concurrency: 1, toUrl: () => "u", revoke: () => undefined });
    cache.want(0, 5);
    cache.want(48, 5);
    await answer(0);
    await answer(48);
    expect(asked).toEqual([0, 48, 49]);
  });

  it("records a failed frame and tries it again when it is asked for", async () => {
    let fail = true;
    const asked: number[] = [];
    const load = (frame: number) => {
      asked.push(frame);
      return fail ? Promise.reject(new Error("503")) : Promise.resolve(new Blob(["x"]));
    };
    const cache = new FrameCache(load, 10, { toUrl: () => "u", revoke: () => undefined });
    cache.want(2, 0);
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.error(2)).toBeInstanceOf(Error);
    cache.want(1, 1); // frame 2 is only ahead here: not tried again
    await new Promise((r) => setTimeout(r, 0));
    expect(asked).toEqual([2, 1]);
    fail = false;
    cache.want(2, 0);
    await new Promise((r) => setTimeout(r, 0));
    expect(cache.url(2)).toBe("u");
    expect(cache.error(2)).toBeUndefined();
  });
});
