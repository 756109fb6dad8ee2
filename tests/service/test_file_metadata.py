import json

import pytest
from annolake_service.domain.file_metadata import MAX_METADATA_BYTES, InvalidMetadata, checked_metadata


def _of_size(size: int, char: str = "a") -> dict:
    """Metadata whose compact JSON is exactly ``size`` bytes (``char`` is 1 or 2 bytes in UTF-8)."""
    width = len(char.encode())
    body = {"k": ""}
    overhead = len(json.dumps(body, separators=(",", ":")).encode())
    assert (size - overhead) % width == 0
    return {"k": char * ((size - overhead) // width)}


def test_metadata_up_to_the_limit_is_kept_as_given():
    at_limit = _of_size(MAX_METADATA_BYTES)
    assert checked_metadata(at_limit) is at_limit
    assert checked_metadata({}) == {}


@pytest.mark.parametrize("char", ["a", "é"])
def test_one_byte_over_the_limit_is_refused_counting_utf8_bytes(char):
    over = _of_size(MAX_METADATA_BYTES + 2, char)  # 2: a multiple of both widths
    with pytest.raises(InvalidMetadata, match=r"the metadata of cam\.jpg comes to 32 KB as JSON; .* at most 32 KB"):
        checked_metadata(over, source="the metadata of cam.jpg")


@pytest.mark.parametrize("value", [["a"], "text", 3, None])
def test_metadata_must_be_an_object(value):
    with pytest.raises(InvalidMetadata, match="must be a JSON object of names to values"):
        checked_metadata(value)
