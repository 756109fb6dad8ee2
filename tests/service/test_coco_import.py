"""A COCO file shaped like COCO 2017's imported as a new user would: one source object is one instance.

The import job's steps (plan, each chunk, finish: what its state machine runs) over the real API and moto;
the result read back through the SDK. Multi-part polygons stay one object, crowd RLE masks are kept (a box
flagged ``iscrowd`` with its mask, which pycocotools decodes to the source's pixels), an image without
objects and an EXIF-turned photo are imported, and no image fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from tests.sdk.api_stack import Stack, api_stack
from tests.support import coco_fixture, import_steps


def _import(stack: Stack, document: dict, media: dict[str, bytes], dataset: str) -> dict:
    return import_steps.run_coco_import(stack.project_id, dataset, document, media)


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    with api_stack(serve_wsgi, new_moto_app, "cocoimp", lambda project: [], role="editor") as running:
        yield running


@pytest.fixture(scope="module")
def imported(stack: Stack) -> dict:
    document, media = coco_fixture.coco_document()
    job = _import(stack, document, media, "coco2017")
    files = {f.name: f for f in stack.project().directory.get("coco2017").files()}
    return {"job": job, "files": files, "document": document}


def test_every_image_is_imported_and_label_counts_are_the_source_object_counts(imported):
    job = imported["job"]
    assert (job["status"], job["done"], job["failed"], job["failures"]) == ("completed", 5, 0, [])
    files = imported["files"]
    assert set(files) == set(coco_fixture.OBJECTS)
    for name, objects in coco_fixture.OBJECTS.items():
        assert Counter(i["name"] for i in files[name].instance_list) == Counter(objects), name


def test_a_two_part_polygon_is_one_object(stack, imported):
    [car] = [i for i in imported["files"]["000000000139.jpg"].instance_list if i["name"] == "car"]
    assert car["type"] == "polygon" and len(car["points"]) == 4 and len(car["parts"]) == 1
    assert [(p["x"], p["y"]) for p in car["parts"][0]] == [(50.0, 12.0), (70.0, 12.0), (60.0, 28.0)]
    assert stack.project().directory.get("coco2017").query("labels.car >= 2")["count"] == 0


def test_a_crowd_mask_is_kept_as_a_flagged_box_with_the_mask(imported):
    [crowd] = [i for i in imported["files"]["000000000285.jpg"].instance_list if i["name"] == "person"]
    assert crowd["type"] == "box" and crowd["iscrowd"] is True
    assert (crowd["x_min"], crowd["y_min"], crowd["x_max"], crowd["y_max"]) == (30.0, 40.0, 90.0, 95.0)
    [source] = [a for a in imported["document"]["annotations"] if a["iscrowd"]]
    stored = coco_mask.decode({"size": crowd["mask"]["size"], "counts": crowd["mask"]["counts"].encode()})
    expected = coco_mask.decode(coco_mask.frPyObjects(source["segmentation"], 100, 120))
    assert stored.shape == (100, 120) and np.array_equal(stored, expected) and int(stored.sum()) == 3300


def test_an_exif_turned_photo_has_its_shown_size_and_its_box(stack, imported):
    rotated = imported["files"]["rotated.jpg"]
    assert (rotated.width, rotated.height) == (64, 96)
    [box] = rotated.instance_list
    assert (box["y_min"], box["y_max"]) == (60.0, 90.0)  # only inside the image as shown
    sample = next(iter(stack.project().directory.get("coco2017").slice('file.name = "rotated.jpg"')))
    assert sample["image"].shape == (96, 64, 3)  # decoded as shown, so the box sits on the pixels it names


def test_a_mask_that_cannot_be_read_leaves_its_box_and_fails_nothing(stack):
    document, _ = coco_fixture.coco_document()
    document["images"] = document["images"][1:2]
    document["annotations"] = [a for a in document["annotations"] if a["image_id"] == 285]
    document["annotations"][0]["segmentation"] = {"size": [100, 120], "counts": "not an rle!"}
    fresh = coco_fixture.noise_jpeg((120, 100), 22)  # other bytes: another file, not the one imported above
    job = _import(stack, document, {"000000000285.jpg": fresh}, "coco-bad-mask")
    assert (job["done"], job["failed"]) == (1, 0)
    [file] = stack.project().directory.get("coco-bad-mask").files()
    crowd = next(i for i in file.instance_list if i["name"] == "person")
    assert crowd["iscrowd"] is True and "mask" not in crowd
    assert (crowd["x_min"], crowd["x_max"]) == (30.0, 90.0)  # the annotation's own bbox
