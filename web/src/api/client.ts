/**
 * The API client: openapi-fetch over the generated `paths` (src/api/schema.d.ts), so every route, parameter and
 * body is type-checked against web/openapi.json. Requests carry the signed-in user's Cognito ID token.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { paths } from "./schema";

export type ApiClient = Client<paths>;

/** The spec's routes start with this prefix; `apiBase` in config.json says where it is served. */
const SPEC_PREFIX = "/api/v1";

/** An API error in the API's one error shape: `{"error": {"code", "message", "details"}}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function toApiError(status: number, body: unknown): ApiError {
  const envelope = isRecord(body) && isRecord(body.error) ? body.error : null;
  if (envelope) {
    const message = typeof envelope.message === "string" ? envelope.message : `HTTP ${status}`;
    const code = typeof envelope.code === "string" ? envelope.code : "error";
    return new ApiError(status, code, message, isRecord(envelope.details) ? envelope.details : {});
  }
  return new ApiError(status, "error", `the API answered HTTP ${status}`);
}

/** The data of an openapi-fetch call, or an `ApiError`. */
export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await request;
  if (!response.ok) {
    throw toApiError(response.status, error);
  }
  return data as T;
}

export function makeClient(
  apiBase: string,
  token: () => Promise<string | null>,
  onUnauthorized: () => void,
): ApiClient {
  if (!apiBase.endsWith(SPEC_PREFIX)) {
    throw new Error(`config.json apiBase ${apiBase} must end with ${SPEC_PREFIX}`);
  }
  const client = createClient<paths>({ baseUrl: apiBase.slice(0, -SPEC_PREFIX.length) });
  const auth: Middleware = {
    async onRequest({ request }) {
      const value = await token();
      if (value) {
        request.headers.set("Authorization", `Bearer ${value}`);
      }
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) {
        onUnauthorized();
      }
      return response;
    },
  };
  client.use(auth);
  return client;
}
