/**
 * Runtime settings, read from `/config.json` before the app starts: written by the CDK web stack at deploy
 * time and by the local runtime (`make up`), so one build runs everywhere. Nothing here is in the bundle.
 */
export interface RuntimeConfig {
  /** Where the API's `/api/v1` routes live, e.g. "/api/v1" (same origin, as CloudFront and `make up` serve it). */
  apiBase: string;
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  /** Cognito's endpoint: https://cognito-idp.<region>.amazonaws.com, or the local emulator. */
  cognitoEndpoint: string;
  stage: string;
}

const KEYS: (keyof RuntimeConfig)[] = [
  "apiBase",
  "region",
  "userPoolId",
  "userPoolClientId",
  "cognitoEndpoint",
  "stage",
];

export function parseConfig(value: unknown): RuntimeConfig {
  if (typeof value !== "object" || value === null) {
    throw new Error("config.json is not a JSON object");
  }
  const record = value as Record<string, unknown>;
  const missing = KEYS.filter((key) => typeof record[key] !== "string");
  if (missing.length > 0) {
    throw new Error(`config.json lacks ${missing.join(", ")}`);
  }
  return Object.fromEntries(KEYS.map((key) => [key, record[key] as string])) as unknown as RuntimeConfig;
}

export async function loadConfig(): Promise<RuntimeConfig> {
  const response = await fetch("/config.json", { cache: "no-cache" });
  if (!response.ok) {
    throw new Error(`cannot load /config.json (HTTP ${response.status})`);
  }
  return parseConfig(await response.json());
}
