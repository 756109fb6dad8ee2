import { QueryClient, QueryObserver } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";

import { refreshAfterWrite } from "./refresh";

/** A server whose list the test changes. Reads see the list as it was when they arrived; the first one is held
 * until the test answers it (a slow first load), the later ones answer at once. */
function slowServer() {
  const members = ["ann"];
  const held: Array<() => void> = [];
  let reads = 0;
  const read = () =>
    new Promise<string[]>((resolve) => {
      const snapshot = [...members];
      if (reads === 0) held.push(() => resolve(snapshot));
      else setTimeout(() => resolve(snapshot), 1);
      reads += 1;
    });
  const answerFirst = () => held.shift()?.();
  return { members, read, answerFirst, held };
}

async function settle(observer: QueryObserver<string[]>) {
  for (let i = 0; i < 20 && observer.getCurrentResult().fetchStatus !== "idle"; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

describe("refreshAfterWrite", () => {
  it("shows a write made while the list's first read was still in flight", async () => {
    const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const server = slowServer();
    const observer = new QueryObserver<string[]>(queryClient, { queryKey: ["members", "demo"], queryFn: server.read });
    const unsubscribe = observer.subscribe(() => undefined);
    expect(server.held).toHaveLength(1); // the page's first read has reached the server, before the write

    server.members.push("rita"); // the invite lands
    const refreshed = refreshAfterWrite(queryClient, ["members", "demo"]);
    server.answerFirst(); // the stale answer comes back after the write
    await refreshed;
    await settle(observer);

    expect(observer.getCurrentResult().data).toEqual(["ann", "rita"]);
    unsubscribe();
  });

  it("re-reads a list that already has data", async () => {
    const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const server = slowServer();
    const observer = new QueryObserver<string[]>(queryClient, { queryKey: ["members", "demo"], queryFn: server.read });
    const unsubscribe = observer.subscribe(() => undefined);
    server.answerFirst();
    await settle(observer);
    expect(observer.getCurrentResult().data).toEqual(["ann"]);

    server.members.push("rita");
    await refreshAfterWrite(queryClient, ["members", "demo"]);

    expect(observer.getCurrentResult().data).toEqual(["ann", "rita"]);
    unsubscribe();
  });
});
