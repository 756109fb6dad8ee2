"""Print the API's OpenAPI document (``make openapi`` writes it to web/openapi.json)."""

from __future__ import annotations

import json
import sys

from annolake_service.api.app import create_app


def document() -> str:
    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(document())
