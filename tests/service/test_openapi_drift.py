from pathlib import Path

from annolake_service.api.openapi import document

COMMITTED = Path(__file__).resolve().parents[2] / "web" / "openapi.json"


def test_committed_openapi_matches_the_app():
    assert COMMITTED.exists(), "web/openapi.json is missing: run `make openapi`"
    assert COMMITTED.read_text() == document(), "the API changed: run `make openapi` and commit web/openapi.json"
