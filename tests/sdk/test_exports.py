"""Exports of snapshots through the SDK and the real API over moto, and round trips through Annolake's imports.

The export state machine's steps (plan, each page, assemble, or fail) run in-process in the order its
definition runs them, started where the API starts an execution. The outputs are read by their usual readers
(pycocotools, the YOLO and JSONL imports, ElementTree for VOC, JSON for the Ground Truth manifest).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from annolake import AnnolakeAPIError
from pycocotools.coco import COCO

from tests.sdk.api_stack import Stack, api_stack
from tests.support import coco_fixture, import_steps
from tests.support.auth import reset_service_caches

BOOKKEEPING = {"id", "root_id", "previous_id", "version", "created_by", "created_at"}


def _run_export_steps(payload: dict, *, name: str) -> str:
    """What the export state machine does with its input: PlanExport, the ExportPages Map, AssembleExport; any
    error goes to FailExport."""
    from annolake_service.services import exports

    project_id, export_id = payload["project_id"], payload["export_id"]
    try:
        plan = exports.plan(project_id, export_id)
        for page in plan["pages"]:
            exports.export_page(project_id, export_id, page["page"])
        exports.assemble(project_id, export_id)
    except Exception as exc:  # noqa: BLE001 - the definition catches States.ALL
        exports.fail(project_id, export_id, {"Error": type(exc).__name__, "Cause": str(exc)})
    return f"arn:test:execution:{name}"


@contextlib.contextmanager
def exporting_stack(serve_wsgi, new_moto_app, project: str, *, page_files: int | None = None) -> Iterator[Stack]:  # noqa: ANN001
    """The API over moto with an editor's key of ``project``, its exports run by ``_run_export_steps``
    (``page_files`` cuts the export's pages smaller than the service's, so one export spans several)."""
    from annolake_service.adapters import workflows
    from annolake_service.services import exports

    with (
        api_stack(serve_wsgi, new_moto_app, project, lambda project: [], role="editor") as running,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(workflows, "start_export", _run_export_steps)
        if page_files is not None:
            patch.setattr(exports, "PAGE_FILES", page_files)
        patch.setenv("EXPORT_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:exports")
        reset_service_caches()
        yield running


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    with exporting_stack(serve_wsgi, new_moto_app, "exports") as running:
        from annolake_service.services import projects

        projects.create_project(ROUND_TRIP, "Round trips", creator="user:owner")
        yield running


def _content(instances: list[dict]) -> list[dict]:
    """What a user edits of each instance, in a stable order."""
    kept = [{k: v for k, v in i.items() if k not in BOOKKEEPING} for i in instances]
    return sorted(kept, key=lambda i: json.dumps(i, sort_keys=True))


def _by_name(stack: Stack, dataset: str) -> dict[str, list[dict]]:
    return {f.name: _content(f.instance_list) for f in stack.project().directory.get(dataset).files()}


ROUND_TRIP = "exports-again"  # imports of exports go to another project: a file's id comes from its bytes, so the
# same images imported in the same project would be the files already there, with their annotations


def _imported(dataset: str) -> dict[str, list[dict]]:
    """Instances by file name of a dataset of the round-trip project, read through the services."""
    from annolake_service.services import files

    listed = files.list_files(ROUND_TRIP, dataset, limit=1000, cursor=None, status=None)["files"]
    return {f["original_name"]: _content(files.get_file_with_instances(ROUND_TRIP, f["file_id"])[1]) for f in listed}


@pytest.fixture(scope="module")
def source(stack: Stack) -> dict:
    document, media = coco_fixture.coco_document()
    job = import_steps.run_coco_import(stack.project_id, "source", document, media)
    assert (job["done"], job["failed"]) == (5, 0)
    snap = stack.project().directory.get("source").snapshot("source-v1")
    return {"snapshot": snap, "media": media, "instances": _by_name(stack, "source")}


def test_coco_export_loads_in_pycocotools_and_imports_back_identically(stack, source, tmp_path):
    job = source["snapshot"].export("coco", tmp_path, progress=False)
    assert job["status"] == "completed" and job["file_name"] == "annotations.json"
    coco = COCO(str(tmp_path / "annotations.json"))
    names = [coco.cats[i]["name"] for i in sorted(coco.cats)]
    assert sorted(coco.cats) == list(range(1, len(names) + 1))  # ids from 1, in schema order
    assert {c: n for c, n in Counter(coco.cats[a["category_id"]]["name"] for a in coco.anns.values()).items()} == {
        "car": 2,
        "person": 2,
        "dog": 1,
        "toothbrush": 1,
    }
    images = {i["file_name"]: i for i in coco.imgs.values()}
    assert set(images) == set(coco_fixture.OBJECTS) and (
        images["rotated.jpg"]["width"],
        images["rotated.jpg"]["height"],
    ) == (64, 96)
    [crowd] = [a for a in coco.anns.values() if a["iscrowd"]]
    assert int(coco.annToMask(crowd).sum()) == 3300 and crowd["area"] == 3300
    [car] = [
        a
        for a in coco.anns.values()
        if a["image_id"] == images["000000000139.jpg"]["id"] and a["category_id"] == names.index("car") + 1
    ]
    assert len(car["segmentation"]) == 2  # one object in two parts
    for name, data in source["media"].items():
        assert (tmp_path / "images" / name).read_bytes() == data  # the media beside it, byte for byte

    document = json.loads((tmp_path / "annotations.json").read_text())
    media = import_steps.folder_files(tmp_path / "images")
    again = import_steps.run_coco_import(ROUND_TRIP, "coco-again", document, media)
    assert (again["done"], again["failed"]) == (5, 0)
    assert _imported("coco-again") == source["instances"]


def test_the_same_export_is_reused_with_the_same_bytes(stack, source, tmp_path):
    first = source["snapshot"].export("coco", progress=False)
    second = source["snapshot"].export("coco", progress=False)
    assert second["export_id"] == first["export_id"] and second["sha256"] == first["sha256"]
    with urllib.request.urlopen(second["download_url"]) as answer:  # noqa: S310 - a presigned URL of the test stack
        body = answer.read()
    assert hashlib.sha256(body).hexdigest() == first["sha256"] and len(body) == first["size_bytes"]
    # another snapshot of the same data has the same digest, hence the same export
    again = stack.project().directory.get("source").snapshot("source-again")
    assert again.digest == source["snapshot"].digest
    assert again.export("coco", progress=False)["export_id"] == first["export_id"]


def test_jsonl_export_is_lossless_through_the_jsonl_import(stack, source, tmp_path):
    source["snapshot"].export("jsonl", tmp_path, progress=False)
    lines = (tmp_path / "annolake.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 and all(json.loads(line)["annolake"]["annotation_version"] >= 0 for line in lines)
    media = {f"images/{n}": b for n, b in import_steps.folder_files(tmp_path / "images").items()}
    job = import_steps.run_import(ROUND_TRIP, "jsonl", "jsonl-again", "\n".join(lines).encode(), media)
    assert (job["done"], job["failed"]) == (5, 0)
    assert _imported("jsonl-again") == source["instances"]


def test_yolo_export_has_a_label_file_per_image_and_imports_back(stack, tmp_path):
    from tests.support import slice_data

    folder = tmp_path / "yolo-source"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "data.yaml").write_text("names: [car, pedestrian]\n")
    for i in range(4):
        (folder / "images" / f"frame_{i}.jpg").write_bytes(slice_data.jpeg(100 + i, size=(80, 60)))
        boxes = "".join(f"{i % 2} 0.{3 + k}00000 0.500000 0.200000 0.250000\n" for k in range(i))
        (folder / "labels" / f"frame_{i}.txt").write_text(boxes)  # frame_0 has none
    files = import_steps.folder_files(folder)
    job = import_steps.run_import(stack.project_id, "yolo", "yolo-src", files["data.yaml"], files)
    assert (job["done"], job["failed"]) == (4, 0)
    snap = stack.project().directory.get("yolo-src").snapshot("yolo-v1")

    out = tmp_path / "yolo-out"
    snap.export("yolo", out, progress=False)
    assert sorted(p.name for p in (out / "labels").iterdir()) == [f"frame_{i}.txt" for i in range(4)]
    assert (out / "labels" / "frame_0.txt").read_text() == ""  # a background image keeps its empty file
    assert sorted(p.name for p in (out / "images").iterdir()) == [f"frame_{i}.jpg" for i in range(4)]
    exported = import_steps.folder_files(out)
    job = import_steps.run_import(ROUND_TRIP, "yolo", "yolo-again", exported["data.yaml"], exported)
    assert (job["done"], job["failed"]) == (4, 0)
    assert _rounded(_imported("yolo-again")) == _rounded(_by_name(stack, "yolo-src"))


def _ultralytics_label_path(image: str) -> str:
    """Where Ultralytics looks for an image's labels: the last ``/images/`` becomes ``/labels/``, the extension
    ``.txt`` (its ``img2label_paths`` rule)."""
    head, tail = image.rsplit("/images/", 1)
    return f"{head}/labels/{tail.rsplit('.', 1)[0]}.txt"


def test_yolo_export_splits_train_and_val_by_file_id_in_ultralytics_layout(stack, tmp_path):
    import yaml
    from annolake import InvalidRequest

    from tests.support import slice_data

    folder = tmp_path / "split-source"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "data.yaml").write_text("names: [car, pedestrian]\n")
    for i in range(40):
        (folder / "images" / f"shot_{i:02d}.jpg").write_bytes(slice_data.jpeg(300 + i, size=(80, 60)))
        boxes = "".join(f"{k % 2} 0.{3 + k}00000 0.500000 0.200000 0.250000\n" for k in range(i % 3))
        (folder / "labels" / f"shot_{i:02d}.txt").write_text(boxes)  # every third image a background
    files = import_steps.folder_files(folder)
    job = import_steps.run_import(stack.project_id, "yolo", "split-src", files["data.yaml"], files)
    assert (job["done"], job["failed"]) == (40, 0)
    snap = stack.project().directory.get("split-src").snapshot("split-v1")

    out = tmp_path / "split-out"
    split = {"train": 0.75, "val": 0.25}
    first = snap.export("yolo", out, progress=False, split=split, seed=3)
    document = yaml.safe_load((out / "data.yaml").read_text())
    assert (document["train"], document["val"]) == ("images/train", "images/val")
    names = document["names"]  # the project's labels by schema position
    assert sorted(names) == list(range(len(names))) and {"car", "pedestrian"} <= set(names.values())
    subsets = {s: sorted(p.name for p in (out / "images" / s).iterdir()) for s in ("train", "val")}
    assert sorted(subsets["train"] + subsets["val"]) == [f"shot_{i:02d}.jpg" for i in range(40)]  # each once
    assert 20 <= len(subsets["train"]) <= 38 and len(subsets["val"]) >= 2
    for subset, names in subsets.items():
        for name in names:
            label = Path(_ultralytics_label_path(str(out / "images" / subset / name)))
            assert label.exists(), label  # every image has its label file, beside it by Ultralytics' rule
            i = int(name[5:7])
            assert len(label.read_text().splitlines()) == i % 3  # empty for a background image
    assert not list((out / "labels").glob("*.txt"))  # nothing outside the subsets

    again = snap.export("yolo", progress=False, split=split, seed=3)
    assert again["export_id"] == first["export_id"] and again["sha256"] == first["sha256"]
    reseeded = snap.export("yolo", tmp_path / "reseeded", progress=False, split=split, seed=4)
    assert reseeded["export_id"] != first["export_id"]
    assert sorted(p.name for p in (tmp_path / "reseeded" / "images" / "val").iterdir()) != subsets["val"]
    with pytest.raises(InvalidRequest, match="add up to 1"):
        snap.export("yolo", progress=False, split={"train": 0.8, "val": 0.3})
    with pytest.raises(InvalidRequest, match="train and val"):
        snap.export("yolo", progress=False, split={"train": 0.5, "holdout": 0.5})


def _rounded(by_name: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """YOLO keeps 6 decimals of the image size: equal to a thousandth of a pixel here."""
    return {
        name: [{k: round(v, 3) if isinstance(v, float) else v for k, v in i.items()} for i in instances]
        for name, instances in by_name.items()
    }


def test_voc_and_ground_truth_manifest_exports(stack, source, tmp_path):
    source["snapshot"].export("voc", tmp_path / "voc", progress=False)
    xml_files = sorted((tmp_path / "voc" / "Annotations").iterdir())
    assert len(xml_files) == 5 and (tmp_path / "voc" / "JPEGImages" / "rotated.jpg").exists()
    objects = Counter(o.findtext("name") for f in xml_files for o in ET.parse(f).getroot().iter("object"))
    assert objects == {"car": 2, "person": 2, "dog": 1, "toothbrush": 1}
    rotated = ET.parse(tmp_path / "voc" / "Annotations" / "rotated.xml").getroot()
    assert (rotated.findtext("size/width"), rotated.findtext("size/height")) == ("64", "96")

    source["snapshot"].export("sagemaker", tmp_path / "gt", progress=False)
    lines = [json.loads(line) for line in (tmp_path / "gt" / "output.manifest").read_text().splitlines()]
    assert len(lines) == 5 and all(line["source-ref"].startswith("s3://") for line in lines)
    metadata = lines[0]["bounding-box-metadata"]
    assert metadata["type"] == "groundtruth/object-detection" and "car" in metadata["class-map"].values()
    assert sum(len(line["bounding-box"]["annotations"]) for line in lines) == 6


def test_an_unknown_format_or_snapshot_is_refused(stack, source):
    from annolake import InvalidRequest, NotFound

    with pytest.raises(ValueError, match="format must be one of"):
        source["snapshot"].export("parquet")
    api = stack.project().client
    with pytest.raises(InvalidRequest):
        api.post(f"/projects/{stack.project_id}/snapshots/source-v1/exports", {"format": "parquet"})
    with pytest.raises(NotFound):
        api.post(f"/projects/{stack.project_id}/snapshots/nope/exports", {"format": "coco"})


def test_a_failed_export_records_why_and_asking_again_re_drives_it(stack, source):
    import os

    import boto3
    from annolake import ExportFailed
    from annolake_service.adapters import storage

    snap = source["snapshot"]
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    bucket, index = os.environ["MEDIA_BUCKET"], storage.snapshot_index_key(stack.project_id, snap.digest)
    kept = s3.get_object(Bucket=bucket, Key=index)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=index)  # every page step now fails
    try:
        with pytest.raises(ExportFailed, match="index does not exist") as failed:
            snap.export("yolo", progress=False)
    finally:
        s3.put_object(Bucket=bucket, Key=index, Body=kept)
    assert failed.value.export["status"] == "failed"
    again = snap.export("yolo", progress=False)  # the same export, run again
    assert again["export_id"] == failed.value.export["export_id"] and again["status"] == "completed"


def test_cvat_video_and_mot_exports_hold_each_video_s_tracks_and_the_xml_imports_back(stack, tmp_path):
    from annolake_service.domain.exports.cvat_video import read_cvat_video
    from annolake_service.domain.instances import parse_instance_list
    from annolake_service.services import annotations, schema

    from tests.support.video_records import register_video

    schema.add_labels(stack.project_id, ["person"])
    video = register_video(stack.project_id, "videos", frame_count=120, name="street.mp4")
    track = {
        "type": "track",
        "name": "person",
        "track_id": 5,
        "shape": "box",
        "keyframes": [
            {"frame": 0, "x_min": 10.0, "y_min": 20.0, "x_max": 50.0, "y_max": 80.0},
            {"frame": 100, "x_min": 110.0, "y_min": 40.0, "x_max": 170.0, "y_max": 120.0},
            {"frame": 110, "x_min": 110.0, "y_min": 40.0, "x_max": 170.0, "y_max": 120.0, "outside": True},
        ],
    }
    saved = annotations.save_annotations(
        stack.project_id, video, expected_version=0, instance_list=[track], author="user:test"
    )
    snap = stack.project().directory.get("videos").snapshot("videos-v1")

    job = snap.export("cvat_video", tmp_path / "cvat", progress=False)
    assert job["status"] == "completed" and job["file_name"] == "cvat_video.tar"
    back = read_cvat_video((tmp_path / "cvat" / "street" / "annotations.xml").read_bytes())

    def stored(instances: list[dict]) -> list[dict]:
        parsed = parse_instance_list(_content(instances), width=640, height=480, frame_count=120)
        return [i.model_dump(exclude_none=True) for i in parsed]

    assert back.frame_count == 120 and stored(back.instances) == stored(saved["instance_list"])  # the same track

    snap.export("mot", tmp_path / "mot", progress=False)
    gt = (tmp_path / "mot" / "street" / "gt" / "gt.txt").read_text().splitlines()
    labels = (tmp_path / "mot" / "street" / "gt" / "labels.txt").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in gt] == list(range(1, 111))  # frames 0..109, then outside
    assert all(line.split(",")[1] == "5" and labels[int(line.split(",")[7]) - 1] == "person" for line in gt)
    assert gt[50].split(",")[2:6] == ["60.00", "30.00", "50.00", "70.00"]  # frame 50: halfway, 50 x 70
    assert "seqLength=120" in (tmp_path / "mot" / "street" / "seqinfo.ini").read_text()


def _start_and_stop_after_the_first_page(payload: dict, *, name: str) -> str:
    """An execution still running when the test cancels it: PlanExport and the first ExportPage have run."""
    from annolake_service.services import exports

    plan = exports.plan(payload["project_id"], payload["export_id"])
    exports.export_page(payload["project_id"], payload["export_id"], plan["pages"][0]["page"])
    return f"arn:aws:states:us-east-1:123456789012:execution:exports:{name}"


def test_a_cancelled_export_stops_leaves_no_output_and_runs_anew_when_asked_again(stack, source, monkeypatch, capsys):
    from annolake.cli import main as cli
    from annolake_service.adapters import storage, workflows
    from annolake_service.services import exports
    from annolake_service.shared.settings import get_settings

    snap = stack.project().directory.get("source").snapshot("source-cars", query="labels.car >= 1")
    with monkeypatch.context() as patch:
        patch.setattr(workflows, "start_export", _start_and_stop_after_the_first_page)
        project = stack.project()
        started = project.client.post(f"{project._path}/snapshots/{snap.digest}/exports", {"format": "voc"})
    export_id = started["export_id"]
    bucket, prefix = get_settings().media_bucket, storage.export_key(stack.project_id, export_id, "")
    assert started["status"] == "running" and storage.list_keys(bucket, prefix)  # a page was written

    stack.point_cli_at(monkeypatch)
    assert cli(["export-cancel", export_id]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelled"
    assert not storage.list_keys(bucket, prefix)  # the partial output is gone
    # a step already in flight when the execution stopped writes nothing more
    assert exports.assemble(stack.project_id, export_id) == {"status": "cancelled"}
    assert exports.export_page(stack.project_id, export_id, 0)["files"] == 0
    assert not storage.list_keys(bucket, prefix)
    described = stack.project().client.get(f"{stack.project()._path}/exports/{export_id}")
    assert (described["status"], described["download_url"]) == ("cancelled", None)
    with pytest.raises(AnnolakeAPIError) as refused:
        stack.project().cancel_export(export_id)
    assert refused.value.status == 409 and "cancelled" in str(refused.value)

    again = snap.export("voc", progress=False)  # asked again: run anew, to the end
    assert again["export_id"] == export_id and again["status"] == "completed"
    with pytest.raises(AnnolakeAPIError) as finished:
        stack.project().cancel_export(export_id)
    assert finished.value.status == 409 and "completed" in str(finished.value)


def test_coco_and_yolo_exports_of_a_video_hold_its_stored_frames_and_interpolated_boxes(stack, tmp_path):
    import io

    import numpy as np
    import yaml
    from annolake_service.services import video_frames
    from PIL import Image

    from tests.support import slice_data
    from tests.support.video_fixtures import read_pattern
    from tests.support.video_slice import END, START, seed_tracked_videos

    pytest.importorskip("av")
    (video,) = seed_tracked_videos(stack.project_id, "frame-export", [70])  # car keyed on frames 0 and 46
    slice_data.seed_dataset(stack.project_id, "frame-export", 1, start=9100)
    snap = stack.project().directory.get("frame-export").snapshot("frames-v1")

    def box_at(frame: int) -> list[float]:
        t = min(frame, 46) / 46
        x0, y0, x1, y1 = (a + (b - a) * t for a, b in zip(START, END, strict=True))
        return [x0, y0, x1 - x0, y1 - y0]

    def stored_frame(path) -> int:
        data = path.read_bytes()
        assert data == video_frames.frame_jpeg(stack.project_id, video, int(path.stem))  # the stored bytes as they are
        return read_pattern(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))

    snap.export("coco", tmp_path / "annotated", progress=False)  # the frames drawn on: the two keyframes
    coco = COCO(str(tmp_path / "annotated" / "annotations.json"))
    frames = {i["file_name"]: i for i in coco.dataset["images"] if "annolake_frame" in i}
    assert sorted(frames) == ["clip-0/000000.jpg", "clip-0/000046.jpg"]

    job = snap.export("coco", tmp_path / "coco", progress=False, every_n_frames=10)
    assert job["options"] == {"every_n_frames": 10}
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    frames = {i["file_name"]: i for i in coco.dataset["images"] if "annolake_frame" in i}
    assert sorted(frames) == [f"clip-0/{n:06d}.jpg" for n in range(0, 70, 10)]
    assert len(coco.dataset["images"]) == 8  # and the image beside the video
    for name, image in frames.items():
        (annotation,) = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        assert annotation["bbox"] == pytest.approx(box_at(image["annolake_frame"]), abs=1e-9), name
        assert coco.loadCats(annotation["category_id"])[0]["name"] == "car"
        assert stored_frame(tmp_path / "coco" / "images" / name) == image["annolake_frame"]
    assert len(list((tmp_path / "coco" / "images").glob("*.jpg"))) == 1  # the image; the video is its frames

    snap.export("yolo", tmp_path / "yolo", progress=False, every_n_frames=30)
    labels = sorted(p.name for p in (tmp_path / "yolo" / "labels" / "clip-0").iterdir())
    assert labels == ["000000.txt", "000030.txt", "000060.txt"]
    (line,) = (tmp_path / "yolo" / "labels" / "clip-0" / "000060.txt").read_text().splitlines()
    x, y, w, h = box_at(60)
    names = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())["names"]
    car = next(n for n, name in names.items() if name == "car")
    assert line == f"{car} {(x + w / 2) / 128:.6f} {(y + h / 2) / 48:.6f} {w / 128:.6f} {h / 48:.6f}"
    for name in ("000000", "000030", "000060"):
        assert stored_frame(tmp_path / "yolo" / "images" / "clip-0" / f"{name}.jpg") == int(name)

    with pytest.raises(AnnolakeAPIError, match=r"format 'voc': this format takes no options; got \['every_n_frames'\]"):
        snap.export("voc", every_n_frames=5, progress=False)
    with pytest.raises(AnnolakeAPIError, match="every_n_frames is a whole number of frames from 1"):
        snap.export("coco", every_n_frames=0, progress=False)


def _s3():  # noqa: ANN202
    import os

    import boto3

    return boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


def _object_at(uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return _s3().get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_coco_export_with_s3_references_names_each_original_by_its_uri(stack, source, tmp_path):
    job = source["snapshot"].export("coco", tmp_path, references="s3", progress=False)
    assert job["options"] == {"references": "s3"} and not (tmp_path / "images").exists()  # references, not media
    coco = COCO(str(tmp_path / "annotations.json"))
    images = {i["file_name"]: i for i in coco.imgs.values()}
    assert set(images) == set(source["media"])
    for name, image in images.items():
        assert image["coco_url"].startswith("s3://")
        assert _object_at(image["coco_url"]) == source["media"][name]  # the original, byte for byte
    plain = source["snapshot"].export("coco", progress=False)
    assert plain["export_id"] != job["export_id"]  # the option is part of the export's id
    again = source["snapshot"].export("coco", references="s3", progress=False)
    assert (again["export_id"], again["sha256"]) == (job["export_id"], job["sha256"])
    # a Ground Truth manifest always holds them: asking for them is the same export
    assert (
        source["snapshot"].export("sagemaker", references="s3", progress=False)["export_id"]
        == (source["snapshot"].export("sagemaker", progress=False)["export_id"])
    )


def test_presigned_references_are_rewritten_in_the_download_and_fetch_the_originals(stack, source, tmp_path):
    import urllib3

    snap = source["snapshot"]
    job = snap.export("coco", tmp_path / "coco", references="presigned", progress=False)
    assert job["references"] == "presigned" and job["references_presigned"] == 5
    stored = snap.export("coco", references="s3", progress=False)
    assert job["export_id"] == stored["export_id"]  # the stored export keeps its s3:// URIs, and is reused
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    for image in coco.imgs.values():
        assert image["coco_url"].startswith("http")
        answer = urllib3.request("GET", image["coco_url"])
        assert answer.status == 200 and answer.data == source["media"][image["file_name"]]
    coco.download(str(tmp_path / "fetched"))  # pycocotools' own fetch of each coco_url
    assert import_steps.folder_files(tmp_path / "fetched") == source["media"]

    snap.export("jsonl", tmp_path / "jsonl", references="presigned", progress=False)
    for line in (tmp_path / "jsonl" / "annolake.jsonl").read_text(encoding="utf-8").splitlines():
        packet = json.loads(line)
        assert packet["annolake"]["source_uri"].startswith("s3://")  # the record keeps where it lives
        answer = urllib3.request("GET", packet["media"]["url"])
        assert answer.data == source["media"][packet["annolake"]["name"]]

    snap.export("voc", tmp_path / "voc", references="presigned", progress=False)
    rotated = ET.parse(tmp_path / "voc" / "Annotations" / "rotated.xml").getroot()
    assert urllib3.request("GET", rotated.findtext("path")).data == source["media"]["rotated.jpg"]
    assert not (tmp_path / "voc" / "JPEGImages").exists()

    # the URLs live as long as asked, at most the platform's URL lifetime
    short = snap.export("coco", tmp_path / "short", references="presigned", url_expires_in=60, progress=False)
    assert (
        "X-Amz-Expires=60" in json.loads((tmp_path / "short" / "annotations.json").read_text())["images"][0]["coco_url"]
    )
    assert short["references_expire_at"] < job["references_expire_at"]


def _whole_rewrite(fmt: str, folder: Path, urls: dict[str, str]) -> dict[str, bytes]:
    """What the rewrite wrote when it held every URL and the whole COCO document: each file of ``folder``."""
    import re
    from xml.sax.saxutils import escape, unescape

    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    if fmt == "coco":
        document = json.loads(files["annotations.json"])
        for image in document["images"]:
            image["coco_url"] = urls.get(image.get("coco_url", ""), image.get("coco_url"))
        files["annotations.json"] = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    elif fmt == "jsonl":
        lines = []
        for line in files["annolake.jsonl"].splitlines():
            packet = json.loads(line)
            packet["media"]["url"] = urls.get(packet["media"]["url"], packet["media"]["url"])
            lines.append(json.dumps(packet, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode())
        files["annolake.jsonl"] = b"\n".join(lines) + b"\n"
    else:
        for name, data in files.items():
            found = re.search(rb"<path>([^<]*)</path>", data)
            if name.endswith(".xml") and found and unescape(found.group(1).decode()) in urls:
                url = escape(urls[unescape(found.group(1).decode())]).encode()
                files[name] = data[: found.start(1)] + url + data[found.end(1) :]
    return files


@pytest.mark.parametrize("fmt", ["coco", "jsonl", "voc"])
def test_the_presigned_rewrite_asks_a_page_at_a_time_and_writes_what_the_whole_rewrite_wrote(
    stack, source, tmp_path, monkeypatch, fmt
):
    """Given the same answers of the references endpoint, the same bytes as the rewrite that held them all."""
    from annolake import export_references

    snap = source["snapshot"]
    monkeypatch.setattr(export_references, "PAGE", 2)  # 5 files: answers for files 0-1, 2-3 and 4
    real_get, asked, answers = snap.scope.api.get, [], []

    def get(path: str, **query: object) -> dict:
        answer = real_get(path, **query)
        if path.endswith("/references"):
            asked.append((query["offset"], query["limit"]))
            answers.append(answer)
        return answer

    monkeypatch.setattr(snap.scope.api, "get", get)
    snap.export(fmt, tmp_path / "s3", references="s3", progress=False)
    job = snap.export(fmt, tmp_path / "presigned", references="presigned", progress=False)
    assert asked == [(0, 2), (2, 2), (4, 2)] and job["references_presigned"] == 5
    urls = {r["uri"]: r["url"] for answer in answers for r in answer["references"]}
    assert len(urls) == 5 and all(url.startswith("http") for url in urls.values())
    out = tmp_path / "presigned"
    written = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert written == _whole_rewrite(fmt, tmp_path / "s3", urls)  # no archive or .partial left either


def test_references_the_format_cannot_take_are_refused_naming_the_fix(stack, source, tmp_path):
    from annolake import InvalidRequest, VersionConflict

    snap = source["snapshot"]
    with pytest.raises(InvalidRequest, match="yolo cannot take references: Ultralytics reads each image from a local"):
        snap.export("yolo", references="s3", progress=False)
    with pytest.raises(InvalidRequest, match="mot cannot take references.*formats that take references are coco"):
        snap.export("mot", references="s3", progress=False)
    with pytest.raises(InvalidRequest, match=r"references is 's3' .* not 'http'"):
        snap.export("coco", references="http", progress=False)
    api = stack.project().client
    exports_path = f"/projects/{stack.project_id}/snapshots/source-v1/exports"
    with pytest.raises(InvalidRequest, match="presigned URLs expire.*references 's3'"):
        api.post(exports_path, {"format": "coco", "options": {"references": "presigned"}})
    with pytest.raises(ValueError, match="give path="):
        snap.export("coco", references="presigned", progress=False)
    with pytest.raises(ValueError, match="s3:// URI only"):
        snap.export("sagemaker", tmp_path, references="presigned", progress=False)
    plain = snap.export("coco", progress=False)
    with pytest.raises(VersionConflict, match="names no originals by S3 URI"):
        api.get(f"/projects/{stack.project_id}/exports/{plain['export_id']}/references")


def test_the_cli_exports_with_references(stack, source, capsys, monkeypatch, tmp_path):
    import urllib3
    from annolake.cli import main as cli

    stack.point_cli_at(monkeypatch)
    out = tmp_path / "jsonl"
    assert cli(["export", "jsonl", "--snapshot", "source-v1", "--out", str(out), "--references", "presigned"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expires = datetime.fromisoformat(printed["references_expire_at"])  # printed for the user to see
    assert datetime.now(UTC) + timedelta(minutes=10) < expires < datetime.now(UTC) + timedelta(minutes=16)
    packets = [json.loads(line) for line in (out / "annolake.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [urllib3.request("GET", p["media"]["url"]).data for p in packets] == [
        source["media"][p["annolake"]["name"]] for p in packets
    ]
    assert not (out / "images").exists()
    yolo = ["export", "yolo", "--snapshot", "source-v1", "--out", str(tmp_path / "yolo"), "--references", "s3"]
    assert cli(yolo) != 0
    assert "yolo cannot take references" in capsys.readouterr().err


def test_a_coco_export_with_presigned_references_imports_back_without_its_images(stack, source, tmp_path, monkeypatch):
    """A colleague's Annolake given annotations.json alone fetches each image from its coco_url."""
    source["snapshot"].export("coco", tmp_path, references="presigned", progress=False)
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")  # the presigned URLs point at the local test stack
    reset_service_caches()
    try:
        job = import_steps.run_import(ROUND_TRIP, "coco", "by-url", (tmp_path / "annotations.json").read_bytes(), {})
    finally:
        monkeypatch.delenv("ALLOW_PRIVATE_URLS")
        reset_service_caches()
    assert (job["done"], job["failed"]) == (5, 0)
    assert _imported("by-url") == source["instances"]


VIDEO_FRAMES = 30


def _video_instances() -> list[dict]:
    """Two tracks (a box track with interpolated frames, outside, occluded and per-frame attributes; a point
    track), a frame tag with an attribute and a whole-video tag."""

    def box(frame: int, x0: float, y0: float, x1: float, y1: float, **more) -> dict:
        return {"frame": frame, "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, **more}

    return [
        {
            "type": "track",
            "name": "car",
            "track_id": 3,
            "shape": "box",
            "attributes": {"make": "ford"},
            "keyframes": [
                box(0, 4.0, 2.0, 40.0, 30.0, attributes={"lights": "on"}),
                box(12, 60.0, 8.0, 100.0, 40.0, occluded=True),
                box(20, 80.0, 10.0, 120.0, 44.0, outside=True),
            ],
        },
        {
            "type": "track",
            "name": "person",
            "track_id": 7,
            "shape": "point",
            "keyframes": [
                {"frame": 5, "points": [{"x": 10.0, "y": 10.0}]},
                {"frame": 25, "points": [{"x": 50.0, "y": 30.0}]},
            ],
        },
        {"type": "frame_tag", "name": "shaky", "frame_start": 3, "frame_end": 8, "attributes": {"severity": 2}},
        {"type": "tag", "name": "night"},
    ]


def _ingest_imported_videos(project_id: str) -> list[dict]:
    """What S3's notification of the uploads prefix starts for each video an import handed over: a sidecar's
    own event (its video not ingested yet, so it waits), then the ingest machine and the video ingest machine."""
    from annolake_service.adapters import storage
    from annolake_service.services import ingest
    from annolake_service.shared.settings import get_settings

    from tests.support.video_steps import run_video_ingest

    bucket = get_settings().media_bucket
    arrived = storage.list_keys(bucket, f"uploads/{project_id}/")
    for key in (k for k in arrived if k.endswith(".json")):
        assert ingest.attach_late_sidecar(bucket, key) is None
    outcomes = []
    for key in (k for k in arrived if not k.endswith(".json")):
        assert ingest.process_media(bucket, key)["media_type"] == "video"
        outcomes.append(run_video_ingest(bucket, key))
    return outcomes


@contextlib.contextmanager
def _private_urls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    reset_service_caches()
    try:
        yield
    finally:
        monkeypatch.delenv("ALLOW_PRIVATE_URLS")
        reset_service_caches()


@pytest.mark.parametrize("references", [None, "s3", "presigned"])
def test_a_jsonl_export_of_a_video_imports_back_with_the_same_tracks_and_tags(stack, tmp_path, monkeypatch, references):
    """With its media, with S3 references beside the media, and by presigned URLs alone (the import fetches it)."""
    pytest.importorskip("av")
    from annolake_service.domain.schema import AttributeGroup
    from annolake_service.services import annotations, files, imports, schema

    from tests.support.video_fixtures import make_video
    from tests.support.video_slice import ingest_video

    dataset, frames = f"jsonl-video-{references or 'media'}", VIDEO_FRAMES + [None, "s3", "presigned"].index(references)
    schema.add_labels(stack.project_id, ["car", "person", "shaky", "night"])
    known = {g.name for g in schema.get_schema(stack.project_id)[0].attribute_groups}
    for group in (
        AttributeGroup(name="make", kind="text", label_names=["car"]),
        AttributeGroup(name="lights", kind="select", options=["on", "off"], label_names=["car"]),
        AttributeGroup(name="severity", kind="number", min=0, max=5, label_names=["shaky"]),
    ):
        if group.name not in known:
            schema.add_attribute_group(stack.project_id, group)
    original = make_video(tmp_path / "drive.mp4", frames=frames, size=(128, 48))
    video = ingest_video(stack.project_id, dataset, original)
    saved = annotations.save_annotations(
        stack.project_id, video, expected_version=0, instance_list=_video_instances(), author="user:test"
    )["instance_list"]
    snap = stack.project().directory.get(dataset).snapshot(f"{dataset}-v1")
    out = tmp_path / "out"
    snap.export("jsonl", out, progress=False, references=references, media=references != "presigned")
    (line,) = (out / "annolake.jsonl").read_text(encoding="utf-8").splitlines()
    packet = json.loads(line)
    assert packet["media"]["type"] == "video" and ("url" in packet["media"]) == (references is not None)
    assert packet["annolake"]["frame_count"] == frames
    media = {p: b for p, b in import_steps.folder_files(out).items() if p != "annolake.jsonl"}
    assert media == ({} if references == "presigned" else {packet["media"]["path"]: original.read_bytes()})

    with _private_urls(monkeypatch):  # presigned URLs point at the local test stack
        job = import_steps.run_import(ROUND_TRIP, "jsonl", dataset, line.encode(), media)
    assert (job["status"], job["done"], job["failed"]) == ("running", 0, 0), job["failures"]  # in the video ingest
    (ingested,) = _ingest_imported_videos(ROUND_TRIP)
    assert "file" in ingested, ingested
    job = imports.get_import(ROUND_TRIP, job["import_id"])
    assert (job["status"], job["done"], job["failed"]) == ("completed", 1, 0), job["failures"]
    (listed,) = files.list_files(ROUND_TRIP, dataset, limit=10, cursor=None, status=None)["files"]
    record, instances = files.get_file_with_instances(ROUND_TRIP, listed["file_id"])
    assert (record.media_type, record.original_name, record.status) == ("video", "drive.mp4", "ready")
    assert record.video is not None and record.video.frame_count == frames
    assert _content(instances) == _content(saved)  # the same tracks, keyframes, frame tag and tag
    source_record = files.get_file(stack.project_id, video)
    assert (record.label_counts, record.frame_counts) == (source_record.label_counts, source_record.frame_counts)

    with _private_urls(monkeypatch):  # the import re-driven, then the same import again
        redriven = import_steps.run_steps(ROUND_TRIP, job["import_id"])
        again = import_steps.run_import(ROUND_TRIP, "jsonl", dataset, line.encode(), media)
    assert (redriven["status"], redriven["done"], again["status"], again["done"]) == ("running", 0, "running", 0)
    reused = _ingest_imported_videos(ROUND_TRIP)
    assert len(reused) == 2 and all(r["file"] == {**ingested["file"], "created": False} for r in reused)
    for import_id in (job["import_id"], again["import_id"]):
        ended = imports.get_import(ROUND_TRIP, import_id)
        assert (ended["status"], ended["done"], ended["failed"]) == ("completed", 1, 0), ended["failures"]
    assert len(files.list_files(ROUND_TRIP, dataset, limit=10, cursor=None, status=None)["files"]) == 1
    assert files.get_file_with_instances(ROUND_TRIP, listed["file_id"])[1] == instances  # version 1, kept


def test_video_packets_the_import_cannot_take_fail_naming_the_item_and_the_fix(stack, tmp_path):
    pytest.importorskip("av")
    from annolake_service.services import files, imports

    from tests.support.video_fixtures import make_video

    clip = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48)).read_bytes()
    picture = next(iter(coco_fixture.coco_document()[1].values()))
    track = {"type": "track", "name": "car", "track_id": 1, "shape": "box"}
    packets = [
        {  # an image's box on a video
            "media": {"path": "clip.mp4", "type": "video"},
            "instance_list": [{"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9}],
        },
        {  # a track without keyframes' geometry
            "media": {"path": "clip.mp4"},
            "instance_list": [{**track, "keyframes": [{"frame": 0, "x_min": 1}]}],
        },
        {"media": {"path": "clip.wav", "type": "audio"}, "instance_list": []},
        {"media": {"path": "still.jpg", "type": "video"}, "instance_list": []},  # an image said to be a video
        {  # valid tracks, but past the probed video's last frame: its ingest refuses it
            "media": {"path": "clip.mp4", "type": "video"},
            "instance_list": [{**track, "keyframes": [{"frame": 40, "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9}]}],
        },
        {  # exported with S3 references and imported without the media
            "media": {"path": "images/gone.mp4", "url": "s3://elsewhere/gone.mp4", "type": "video"},
            "instance_list": [],
        },
    ]
    manifest = "\n".join(json.dumps(p) for p in packets).encode()
    job = import_steps.run_import(
        ROUND_TRIP, "jsonl", "bad-videos", manifest, {"clip.mp4": clip, "still.jpg": picture, "clip.wav": b"RIFF"}
    )
    assert (job["status"], job["done"], job["failed"]) == ("running", 0, 5)  # one video in the video ingest
    reasons = {f["index"]: f["reason"] for f in job["failures"]}
    assert "clip.mp4 is a video: instances [0] are image shapes; on a video a shape is a track keyframe" in reasons[0]
    assert (
        "clip.mp4 is a video: instance 0.track: Value error, track 1 keyframe at frame 0: a box keyframe needs "
        "['y_min', 'x_max', 'y_max']" in reasons[1]
    )
    assert (
        "line 3: media type 'audio' is not supported; a packet's media.type is one of ['image', 'video']" in reasons[2]
    )
    assert "still.jpg is not a video (MP4, MOV, WebM or MKV), though its packet says media type 'video'" in reasons[3]
    assert (
        "images/gone.mp4 was not uploaded with the import, and its media.url s3://elsewhere/gone.mp4 is an S3 URI, "
        "which the import does not read: upload the media with the import (the exported folder, with media), or "
        "export with references='presigned'" in reasons[5]
    )
    (refused,) = _ingest_imported_videos(ROUND_TRIP)
    assert "frames [40] are past the video's last frame 11 (it has 12 frames" in refused["quarantine"]["reason"]
    ended = imports.get_import(ROUND_TRIP, job["import_id"])  # its refusal is the item's failure
    assert (ended["status"], ended["done"], ended["failed"]) == ("completed_with_errors", 0, 6)
    assert {f["index"]: f["reason"] for f in ended["failures"]}[4] == (
        f"the video ingest quarantined it: {refused['quarantine']['reason']}"
    )
    (listed,) = files.list_files(ROUND_TRIP, "bad-videos", limit=10, cursor=None, status=None)["files"]
    assert listed["status"] == "quarantined" and "move them to frames 0..11" in listed["status_reason"]
