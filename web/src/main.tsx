import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";

import { ApiError, makeClient } from "./api/client";
import { router } from "./App";
import { Auth } from "./auth/session";
import { loadConfig } from "./config";
import { ServicesContext } from "./services";
import "./styles.css";

const element = document.getElementById("root");
if (!element) {
  throw new Error("index.html has no #root");
}
const root = createRoot(element);

async function start() {
  const config = await loadConfig();
  const auth = new Auth(config);
  const api = makeClient(config.apiBase, () => auth.idToken(), () => auth.clear());
  const queryClient = new QueryClient({
    defaultOptions: {
      queries: {
        // the caller's mistakes (4xx) are not retried; outages are, twice
        retry: (failures, error) => !(error instanceof ApiError && error.status < 500) && failures < 2,
        refetchOnWindowFocus: false,
        staleTime: 10_000,
      },
    },
  });
  root.render(
    <StrictMode>
      <ServicesContext.Provider value={{ config, auth, api }}>
        <QueryClientProvider client={queryClient}>
          <RouterProvider router={router} />
        </QueryClientProvider>
      </ServicesContext.Provider>
    </StrictMode>,
  );
}

start().catch((error: unknown) => {
  root.render(
    <main className="startup-error" role="alert">
      <h1>Annolake cannot start</h1>
      <p>{error instanceof Error ? error.message : String(error)}</p>
    </main>
  );
});
