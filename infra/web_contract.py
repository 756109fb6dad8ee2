"""What the web UI reads at start-up and how its files are cached: one definition for the web stack (CloudFront)
and the local runtime (uvicorn), kept free of CDK imports so the runtime does not load it.

``config.json`` is fetched by the browser before anything else (``web/src/config.ts``): settings that differ per
deployment never go into the bundle, so one build runs on every stage and locally.
"""

from __future__ import annotations

API_BASE = "/api/v1"
CONFIG_FILE = "config.json"
INDEX_FILE = "index.html"
ASSETS_DIR = "assets"  # Vite names every file in it by its content hash
ASSETS_CACHE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"  # revalidate each time: a deploy must reach browsers at once


def runtime_config(
    *, region: str, user_pool_id: str, user_pool_client_id: str, cognito_endpoint: str, stage: str
) -> dict[str, str]:
    """The body of ``config.json`` (values may be CDK tokens at synth time)."""
    return {
        "apiBase": API_BASE,
        "region": region,
        "userPoolId": user_pool_id,
        "userPoolClientId": user_pool_client_id,
        "cognitoEndpoint": cognito_endpoint,
        "stage": stage,
    }
