import json

import pytest
from annolake_service.domain.imports import (
    ImportFormatError,
    ImportItem,
    parse_coco,
    parse_jsonl,
    parse_yolo,
    parse_yolo_names,
    resolve_instances,
)

COCO = {
    "images": [
        {"id": 1, "file_name": "a/one.jpg", "width": 100, "height": 80},
        {"id": 2, "file_name": "two.jpg", "coco_url": "https://example.com/two.jpg"},
    ],
    "categories": [{"id": 3, "name": "car"}, {"id": 4, "name": "traffic light"}],
    "annotations": [
        {"id": 10, "image_id": 1, "category_id": 3, "bbox": [10, 20, 30, 40]},
        {"id": 11, "image_id": 1, "category_id": 4, "bbox": [1, 2, 3, 4], "segmentation": [[1, 2, 4, 2, 4, 6, 1, 6]]},
        {
            "id": 12,
            "image_id": 2,
            "category_id": 3,
            "iscrowd": 1,
            "segmentation": {"counts": [0, 2, 4], "size": [2, 3]},
        },
        {
            "id": 13,
            "image_id": 2,
            "category_id": 4,
            "bbox": [0, 0, 1, 1],
            "segmentation": {"counts": "?!", "size": [2, 3]},
        },
    ],
}


def test_coco_boxes_polygons_and_urls():
    parsed = parse_coco(json.dumps(COCO))
    assert parsed.label_names == ["car", "traffic light"]
    one, two = parsed.items
    assert (one.name, one.media_path) == ("one.jpg", "a/one.jpg")
    assert one.instances[0] == {
        "type": "box",
        "name": "car",
        "x_min": 10.0,
        "y_min": 20.0,
        "x_max": 40.0,
        "y_max": 60.0,
    }
    assert one.instances[1]["type"] == "polygon" and len(one.instances[1]["points"]) == 4
    assert len(one.instances) == 2  # a polygon's box is derived from it, not a second object
    assert two.media_url == "https://example.com/two.jpg" and two.problem is None
    crowd, unreadable = two.instances
    assert crowd == {
        "type": "box",
        "name": "car",
        "x_min": 0.0,  # column-major runs: 0 off, 2 on (the first column), 4 off
        "y_min": 0.0,
        "x_max": 1.0,
        "y_max": 2.0,
        "mask": {"size": [2, 3], "counts": crowd["mask"]["counts"]},
        "iscrowd": True,
    }
    assert unreadable == {  # the annotation's own box, flagged, when its mask cannot be read
        "type": "box",
        "name": "traffic light",
        "x_min": 0.0,
        "y_min": 0.0,
        "x_max": 1.0,
        "y_max": 1.0,
        "iscrowd": True,
    }


@pytest.mark.parametrize(
    "document, words",
    [
        ("not json", "not JSON"),
        ({"images": "x"}, "'images' list"),
        (
            {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 9, "category_id": 1}]},
            "image_id 9",
        ),
        (
            {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "category_id": 7}]},
            "category_id 7",
        ),
    ],
)
def test_coco_errors_say_where(document, words):
    with pytest.raises(ImportFormatError, match=words):
        parse_coco(document if isinstance(document, str) else json.dumps(document))


def test_yolo_names_from_yaml_list_map_and_text():
    assert parse_yolo_names("names: [car, person]") == ["car", "person"]
    assert parse_yolo_names("names:\n  1: person\n  0: car\n") == ["car", "person"]
    assert parse_yolo_names("car\nperson\n") == ["car", "person"]


def test_yolo_pairs_images_with_labels_and_converts_to_pixels():
    files = ["images/train/x.jpg", "labels/train/x.txt", "images/train/y.PNG", "data.yaml"]
    labels = {"labels/train/x.txt": "0 0.5 0.5 0.2 0.4\n1 0.1 0.1 0.4 0.4\n"}
    parsed = parse_yolo("names: [car, person]", files, labels.__getitem__)
    x, y = parsed.items
    assert x.media_path == "images/train/x.jpg" and y.yolo_boxes == []
    boxes = resolve_instances(x, 200, 100)
    assert boxes[0] == {"type": "box", "name": "car", "x_min": 80.0, "y_min": 30.0, "x_max": 120.0, "y_max": 70.0}
    assert boxes[1]["x_min"] == 0.0  # clipped to the image
    bad = parse_yolo("names: [car]", ["images/z.jpg", "labels/z.txt"], lambda p: "5 0.5 0.5 0.1 0.1")
    assert "known class" in bad.items[0].problem


def test_jsonl_packets_and_round_trip():
    text = "\n".join(
        [
            json.dumps({"media": {"url": "https://e.com/a.jpg"}, "instance_list": [{"type": "tag", "name": "day"}]}),
            json.dumps({"media": {"path": "clips/b.mp4", "type": "video"}}),
            json.dumps({"media": {"path": "c.wav", "type": "audio"}}),
        ]
    )
    parsed = parse_jsonl(text)
    assert parsed.label_names == ["day"] and (parsed.items[1].media_type, parsed.items[1].problem) == ("video", None)
    assert parsed.items[2].problem.startswith("line 3: media type 'audio' is not supported")
    assert ImportItem.from_json(parsed.items[0].to_json()) == parsed.items[0]
    with pytest.raises(ImportFormatError, match="line 1"):
        parse_jsonl('{"no": "media"}')
