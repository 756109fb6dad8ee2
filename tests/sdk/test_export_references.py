"""The presigned rewrite's memory and its JSON streaming, offline (the platform's answers: test_exports.py).

The references endpoint is stood in for by the bench's ``Signer`` (a range of files an answer, as the service
answers); the export is written by the service's own writers."""

from __future__ import annotations

import json

import pytest
from annolake import export_references

from tests.bench.presigned_rewrite import Signer, rewrite_peak, write_export

BOUND = 3 * 2**20  # one answer's URLs and a read buffer, whatever the export's size
FILE_NAMES = {"coco": "annotations.json", "jsonl": "annolake.jsonl"}


@pytest.mark.parametrize("fmt", ["coco", "jsonl"])
def test_the_rewrite_holds_one_answer_of_urls_at_a_time_whatever_the_export_s_size(tmp_path, fmt):
    """Before, every URI→URL pair and (COCO) the whole document were held: 40 MiB and more at 20,000 images."""
    peaks = {}
    for count in (2_000, 20_000):
        folder = tmp_path / str(count)
        folder.mkdir()
        write_export(folder / FILE_NAMES[fmt], count, fmt)
        signer = Signer(count)
        peak, _, answer = rewrite_peak(export_references.rewrite, folder, signer, fmt)
        assert answer["references_presigned"] == count
        assert signer.asked == -(-count // 1000)  # each answer once, in order
        text = (folder / FILE_NAMES[fmt]).read_text(encoding="utf-8")
        assert "s3://" not in text.replace('"source_uri":"s3://', "") and signer.url(count - 1) in text
        assert not list(folder.glob("*.partial"))
        peaks[count] = peak
    assert peaks[20_000] < BOUND, f"{peaks[20_000] / 2**20:.1f} MiB"


DOCUMENTS = [
    {"info": {"a": 1.5e-300, "b": [1, 2, {"c": None}]}, "licenses": [], "images": [], "annotations": []},
    {
        "images": [
            {"id": 1, "file_name": 'é ü \u2028 "q" \\', "coco_url": "s3://b/k1", "h": 12345678901234567890},
            {"id": 2, "coco_url": "s3://b/unknown", "w": -0.0, "t": True},
            {"id": 3, "file_name": "frame", "annolake_frame": 3},
            {"id": 1003, "coco_url": "s3://b/k1003"},
        ],
        "categories": [{"id": 1, "name": "日本"}],
        "annotations": [{"bbox": [1.25, 2, 3e20, 4], "segmentation": {"counts": "x" * 300}}],
        "extra": "tail",
    },
    {},
]


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_streamed_coco_rewrite_writes_what_json_dumps_writes_for_the_whole_document(
    tmp_path, monkeypatch, document, indent
):
    """Across read-buffer boundaries (a buffer of 7 characters), blanks between tokens included."""
    monkeypatch.setattr(export_references._JsonReader, "CHUNK", 7)
    target = tmp_path / "annotations.json"
    target.write_text(json.dumps(document, ensure_ascii=False, indent=indent) + "\n", encoding="utf-8")
    pages = {0: {"s3://b/k1": "https://signed/1?a=1&b=2"}, 1000: {"s3://b/k1003": "https://signed/1003"}}
    asked: list[int] = []

    def urls(position: int) -> dict[str, str]:
        asked.append(position)
        return pages.get(position // 1000 * 1000, {})

    replaced = export_references._coco(tmp_path, urls)
    expected = json.loads(json.dumps(document))
    for image in expected.get("images", []):
        url = pages.get((image["id"] - 1) // 1000 * 1000, {}).get(image.get("coco_url", ""))
        if url:
            image["coco_url"] = url
    assert target.read_bytes() == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    assert replaced == sum("signed" in i.get("coco_url", "") for i in expected.get("images", []))
    assert 2 not in asked  # a frame (no coco_url) asks for nothing


def test_a_document_cut_short_or_with_extra_data_is_refused_and_the_download_kept(tmp_path):
    target = tmp_path / "annotations.json"
    for broken in ('{"images":[{"id":1},', '{"images":[]} {}', '{"images":[1 2]}', '{"images":[01]}'):
        target.write_text(broken)
        with pytest.raises(json.JSONDecodeError):
            export_references._coco(tmp_path, lambda position: {})
        assert target.read_text() == broken and not list(tmp_path.glob("*.partial"))
