/** What every screen uses: the runtime config, the signed-in session, the typed API client. */
import { createContext, useContext, useSyncExternalStore } from "react";

import type { ApiClient } from "./api/client";
import type { Auth, Session } from "./auth/session";
import type { RuntimeConfig } from "./config";

export interface Services {
  config: RuntimeConfig;
  auth: Auth;
  api: ApiClient;
}

export const ServicesContext = createContext<Services | null>(null);

export function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) {
    throw new Error("useServices outside ServicesContext");
  }
  return services;
}

export function useApi(): ApiClient {
  return useServices().api;
}

export function useSession(): Session | null {
  const { auth } = useServices();
  return useSyncExternalStore(
    (listener) => auth.subscribe(listener),
    () => auth.current,
  );
}
