import pytest
from annolake_service.domain.object_keys import (
    ObjectKeyRejected,
    decode_event_key,
    parse_object_key,
    sidecar_key_for,
)


def test_drop_key_names_project_dataset_and_file():
    arrived = parse_object_key("demo/default/sub dir/IMG 1.JPG")
    assert (arrived.project_id, arrived.dataset_name, arrived.original_name) == ("demo", "default", "IMG 1.JPG")
    assert arrived.relative_path == "sub dir/IMG 1.JPG" and arrived.source == "drop"


def test_upload_key():
    arrived = parse_object_key("uploads/demo/train/u123/cat.png")
    assert (arrived.project_id, arrived.dataset_name, arrived.original_name, arrived.source) == (
        "demo",
        "train",
        "cat.png",
        "upload",
    )


def test_a_drop_at_the_project_top_level_goes_to_its_default_dataset():
    arrived = parse_object_key("demo/img.jpg")
    assert (arrived.project_id, arrived.dataset_name, arrived.relative_path) == ("demo", "default", "img.jpg")
    assert parse_object_key("demo/img.json").is_sidecar


@pytest.mark.parametrize("key", ["img.jpg", "demo/", "Demo!/x/y.jpg", "uploads/demo/x/y.jpg"])
def test_keys_without_a_project_or_dataset_are_rejected_with_the_layout(key):
    with pytest.raises(ObjectKeyRejected, match="must|project id"):
        parse_object_key(key)


def test_event_keys_decode_spaces_and_plus():
    assert decode_event_key("demo/default/a+b%2Bc.jpg") == "demo/default/a b+c.jpg"


def test_sidecar():
    assert sidecar_key_for("demo/default/x.y.jpg") == "demo/default/x.y.json"
    assert parse_object_key("demo/default/x.json").is_sidecar
