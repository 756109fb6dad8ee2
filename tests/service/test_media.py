import io

import pytest
from annolake_service.domain import media
from PIL import Image


def _image_bytes(fmt: str = "JPEG", size=(64, 48), exif_orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 10, 10))
    buffer = io.BytesIO()
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buffer, format=fmt, exif=exif)
    else:
        image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, mime", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")])
def test_type_is_sniffed_from_content(fmt, mime):
    facts = media.inspect_image(_image_bytes(fmt))
    assert facts.mime_type == mime
    assert (facts.width, facts.height) == (64, 48)
    assert len(facts.content_hash) == 64
    thumb = Image.open(io.BytesIO(facts.thumbnail_jpeg))
    assert thumb.format == "JPEG" and max(thumb.size) <= 256


def test_exif_rotation_swaps_reported_dimensions():
    facts = media.inspect_image(_image_bytes(size=(64, 48), exif_orientation=6))
    assert (facts.width, facts.height) == (48, 64)


def test_a_large_photo_is_measured_whole_and_its_damage_found_though_decoded_for_its_thumbnail():
    """A JPEG is decoded at a reduced scale for its thumbnail: the facts still give its full (oriented) size,
    the thumbnail still fills its box, and a truncated file is still refused."""
    rotated = media.inspect_image(_image_bytes(size=(2400, 1800), exif_orientation=6))
    assert (rotated.width, rotated.height) == (1800, 2400)
    assert Image.open(io.BytesIO(rotated.thumbnail_jpeg)).size == (192, 256)
    plain = _image_bytes(size=(2400, 1800))
    facts = media.inspect_image(plain)
    assert (facts.width, facts.height) == (2400, 1800)
    assert Image.open(io.BytesIO(facts.thumbnail_jpeg)).size == (256, 192)
    with pytest.raises(media.CorruptMedia, match="truncated or damaged"):
        media.inspect_image(plain[: len(plain) - 200])


def test_empty_file_is_rejected_with_reason():
    with pytest.raises(media.EmptyMedia, match="empty"):
        media.inspect_image(b"")


def test_truncated_image_is_corrupt():
    data = _image_bytes(size=(400, 300))
    with pytest.raises(media.CorruptMedia, match="truncated or damaged"):
        media.inspect_image(data[: len(data) // 2])


def test_video_and_text_are_named_as_not_supported():
    with pytest.raises(media.UnsupportedMedia, match="video"):
        media.inspect_image(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    with pytest.raises(media.UnsupportedMedia, match="text"):
        media.inspect_image(b"hello, this is plain text\n")


def test_size_and_pixel_limits():
    data = _image_bytes(size=(100, 100))
    with pytest.raises(media.MediaTooLarge, match="limit"):
        media.inspect_image(data, max_bytes=10)
    with pytest.raises(media.MediaTooLarge, match="pixels"):
        media.inspect_image(data, max_pixels=5_000)


def test_file_ids_are_natural_keys():
    assert media.file_id_for_content("p", "abc") == media.file_id_for_content("p", "abc")
    assert media.file_id_for_content("p", "abc") != media.file_id_for_content("q", "abc")
    assert media.file_id_for_rejected("p", "d", "x.jpg") != media.file_id_for_rejected("p", "d", "y.jpg")
