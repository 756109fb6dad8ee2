import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";

import { refreshAfterWrite } from "../api/refresh";
import { keys } from "./keys";

describe("query keys", () => {
  it("names each resource apart, per project", () => {
    const all = [
      keys.projects(),
      keys.datasets("demo"),
      keys.datasets("other"),
      keys.schema("demo"),
      keys.members("demo"),
      keys.apiKeys("demo"),
      keys.webhooks("demo"),
      keys.jobs("demo"),
      keys.file("demo", "f1"),
      keys.annotations("demo", "f1"),
      keys.annotationHistory("demo", "f1"),
      keys.quarantined("demo", "train"),
      keys.imports("demo", "train"),
    ].map((key) => JSON.stringify(key));
    expect(new Set(all).size).toBe(all.length);
  });

  it("makes a shorter key the prefix a write re-reads every list under", async () => {
    const queryClient = new QueryClient();
    const lists = [
      keys.files("demo", "train", ""),
      keys.files("demo", "train", "labels.car >= 1"),
      keys.files("demo", "train", "", "det"), // with a model's predictions: a page of its own, re-read alike
      keys.files("demo", "val", ""),
    ];
    for (const key of lists) queryClient.setQueryData(key, { files: [] });
    queryClient.setQueryData(keys.files("other", "train", ""), { files: [] });
    queryClient.setQueryData(keys.labelCounts("demo", "train", ""), { labels: [] });

    await refreshAfterWrite(queryClient, keys.files("demo", "train"));
    const stale = (key: readonly unknown[]) => queryClient.getQueryState(key)?.isInvalidated;
    expect(lists.map(stale)).toEqual([true, true, true, false]);
    expect(keys.files("demo", "train", "", "det")).not.toEqual(keys.files("demo", "train", ""));

    await refreshAfterWrite(queryClient, keys.files("demo"));
    expect(stale(keys.files("demo", "val", ""))).toBe(true);
    expect(stale(keys.files("other", "train", ""))).toBe(false);
    expect(stale(keys.labelCounts("demo", "train", ""))).toBe(false);
    await refreshAfterWrite(queryClient, keys.labelCounts("demo"));
    expect(stale(keys.labelCounts("demo", "train", ""))).toBe(true);
  });
});
