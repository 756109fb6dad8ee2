"""Models in the loop against the synthesized template: registration through the API (presigned POST upload,
the model function's onnxruntime check), prediction runs on the real state machine (moto's ASL engine calling
the handlers in this process), the prediction layer in queries, COCOeval evaluation and selection.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from annolake import InvalidRequest, RunFailed
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.support import onnx_models
from tests.support.model_platform import GREEN, RED, model_platform, unique_project

DETECTOR = {"format": "yolo", "labels": ["car", "pedestrian"], "input_size": 64, "score_threshold": 0.3}


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint, tmp_path_factory):
    with model_platform(local_stack, moto_endpoint, unique_project("models")) as running:
        folder = tmp_path_factory.mktemp("onnx")
        for name, body in {
            "yolo.onnx": onnx_models.yolo_detector(64),
            "classifier.onnx": onnx_models.classifier(32),
            "torchvision.onnx": onnx_models.torchvision_detector(),
        }.items():
            (folder / name).write_bytes(body)
        running.models = folder  # type: ignore[attr-defined]
        yield running


@pytest.fixture(scope="module")
def project(platform):
    return platform.project()


@pytest.fixture(scope="module")
def detector(platform, project):
    return project.model.new("det", path=platform.models / "yolo.onnx", **DETECTOR)


def _human_versions(project, file_ids):
    """Each file's whole annotation history as the API returns it, serialized."""
    return {
        fid: json.dumps(project.client.get(f"{project._path}/files/{fid}/annotations/history"), sort_keys=True)
        for fid in file_ids
    }


# --- registration ----------------------------------------------------------------------------------------


def test_classes_without_a_project_label_are_refused_by_name(platform, project):
    with pytest.raises(InvalidRequest) as refused:
        project.model.new(
            "coco", path=platform.models / "yolo.onnx", format="yolo", labels=["car", "bicycle"], input_size=64
        )
    assert "bicycle" in str(refused.value) and refused.value.details["unmatched"] == ["bicycle"]
    mapped = project.model.new(
        "coco",
        path=platform.models / "yolo.onnx",
        format="yolo",
        labels=["car", "bicycle"],
        label_map={"bicycle": "truck"},
        input_size=64,
    )
    assert mapped.info["status"] == "ready" and mapped.info["class_labels"] == ["car", "truck"]
    ignored = project.model.new(
        "coco",
        path=platform.models / "yolo.onnx",
        format="yolo",
        labels=["car", "bicycle"],
        ignore=["bicycle"],
        input_size=64,
    )
    assert ignored.version == 2 and ignored.info["class_labels"] == ["car", None]


def test_a_graph_that_does_not_fit_its_declared_format_is_rejected_saying_what_it_has(platform, project):
    with pytest.raises(InvalidRequest) as refused:
        project.model.new(
            "wrong", path=platform.models / "classifier.onnx", format="yolo", labels=["car"], input_size=32
        )
    message = str(refused.value)
    assert "1×(4+C)×N" in message and "logits [1, 2]" in message
    assert project.model.get("wrong").info["status"] == "rejected"
    with pytest.raises(InvalidRequest, match="cannot load the file as an ONNX model"):
        broken = platform.models / "broken.onnx"
        broken.write_bytes(b"not a protobuf at all")
        project.model.new("broken", path=broken, format="classifier", labels=["car"], input_size=32)
    torchvision = project.model.new(
        "tv",
        path=platform.models / "torchvision.onnx",
        format="torchvision",
        labels=["car", "pedestrian"],
        input_size=64,
    )
    assert torchvision.info["signature"]["outputs"][1]["type"] == "tensor(int64)"


# --- runs -------------------------------------------------------------------------------------------------


def test_a_run_predicts_every_file_a_corrupt_one_fails_alone_and_human_versions_stay_as_they_were(
    platform, project, detector
):
    from annolake_service.adapters import storage
    from annolake_service.adapters.dynamo import files as file_repo
    from annolake_service.shared.settings import get_settings

    colours = [RED, GREEN] * 6
    ids = platform.seed("street", colours)
    corrupt = platform.seed("street", [RED], start=100)[0]
    record = file_repo.get_file(platform.project_id, corrupt)
    storage.write_object(get_settings().media_bucket, record.original_key, b"\x89PNG\r\n\x1a\n broken", "image/png")
    before = _human_versions(project, [*ids, corrupt])

    run = detector.predict("street", threshold=0.3)
    final = run.wait(progress=False, timeout=120)

    assert final["status"] == "completed_with_errors", final
    assert (final["total"], final["done"], final["failed"], final["pending"]) == (13, 12, 1, 0)
    assert final["items_per_second"] > 0
    [failure] = final["failures"]
    assert failure["file_id"] == corrupt and "ImageUnreadable" in failure["reason"]
    for fid, colour in zip(ids, colours, strict=True):
        predicted = run.predictions(fid)
        labels = {i["name"] for i in predicted["instance_list"]}
        assert labels == {"car" if colour == RED else "pedestrian"}
        assert len(predicted["instance_list"]) == 2  # three boxes, two of them one object after NMS
        for instance in predicted["instance_list"]:
            assert instance["score"] > 0.9
            assert (instance["model"], instance["version"], instance["run"]) == ("det", detector.version, run.run_id)
    assert _human_versions(project, [*ids, corrupt]) == before

    street = project.directory.get("street")
    reds = {fid for fid, c in zip(ids, colours, strict=True) if c == RED}
    assert {s["file"]["id"] for s in street.slice("predictions.det.car >= 2")} == reds
    assert {s["file"]["id"] for s in street.slice(f"predictions.{run.run_id}.pedestrian = 2")} == set(ids) - reds
    assert not list(street.slice("predictions.det.car.score < 0.9"))
    assert {s["file"]["id"] for s in street.slice("predictions.det.car.score > 0.9")} == reds
    with pytest.raises(InvalidRequest, match="unknown model 'dett'.*did you mean 'det'"):
        list(street.slice("predictions.dett.car > 0"))


def test_a_runs_predictions_come_in_pages_bounded_by_bytes_and_the_sdk_follows_them(platform, project, detector):
    from tests.support.auth import reset_service_caches

    ids = platform.seed("paged", [RED, GREEN] * 4, start=500)
    run = detector.predict("paged")
    assert run.wait(progress=False, timeout=120)["done"] == len(ids)
    whole = project.client.get(f"{project._path}/runs/{run.run_id}/predictions", limit=1000)
    assert whole["cursor"] is None and len(whole["predictions"]) == len(ids)
    budget = 2 * max(len(json.dumps(p)) + 1 for p in whole["predictions"])  # two predictions a page, not three
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PAGE_MAX_BYTES", str(budget))
        reset_service_caches()
        pages, cursor = [], None
        while True:
            page = project.client.get(f"{project._path}/runs/{run.run_id}/predictions", limit=1000, cursor=cursor)
            assert sum(len(json.dumps(p)) + 1 for p in page["predictions"]) <= budget
            pages.append([p["file_id"] for p in page["predictions"]])
            if not (cursor := page["cursor"]):
                break
        assert [p["file_id"] for p in run.predictions(limit=1000)] == sum(pages, [])
        assert len(run.predictions(limit=3)) == 3  # short pages are followed up to the limit asked for
        assert len(run.predictions(limit=1500)) == len(ids)  # more than a page may hold: asked a page at a time
    reset_service_caches()
    assert sum(pages, []) == sorted(ids) and len(pages) >= 4 and max(map(len, pages)) == 2


def test_stream_pages_listings_and_samples_carry_a_runs_predictions_when_asked(platform, project, detector):
    ids = platform.seed("carried", [RED, GREEN, RED], start=700)
    run = detector.predict("carried")
    run.wait(progress=False, timeout=120)
    unpredicted = platform.seed("carried", [GREEN], start=710)[0]  # joins after the run: it has no prediction
    expected = {fid: run.predictions(fid)["instance_list"] for fid in ids}
    assert all(expected.values())
    dataset = project.directory.get("carried")

    sliced = dataset.slice("labels.car >= 0")
    for ref in ("det", run.run_id):  # the model's latest finished run, or the run named
        page = sliced.page(0, 10, predictions=ref)
        assert page["predictions_run"] == run.run_id
        carried = {item["file"]["id"]: item["predictions"] for item in page["items"]}
        assert carried == {**expected, unpredicted: None}
    plain = sliced.page(0, 10)  # not asked: not carried
    assert plain["predictions_run"] is None and all(item["predictions"] is None for item in plain["items"])

    samples = {s["file"]["id"]: s for s in sliced.to_pytorch(include_predictions="det")}
    assert {fid: s["predictions"] for fid, s in samples.items()} == {**expected, unpredicted: None}
    assert all("predictions" not in s for s in sliced.to_pytorch())
    boxes = {
        fid: [i for i in found or [] if i["type"] == "box"] for fid, found in {**expected, unpredicted: None}.items()
    }
    for element in sliced.to_tensorflow(include_predictions="det"):
        wanted = boxes[element["file_id"].numpy().decode()]
        assert element["prediction_boxes"].shape == (len(wanted), 4)
        assert element["prediction_scores"].numpy().tolist() == pytest.approx([b["score"] for b in wanted])
        assert element["prediction_label_ids"].numpy().tolist() == [sliced.label_ids[b["name"]] for b in wanted]
    assert "prediction_boxes" not in next(iter(sliced.to_tensorflow()))

    snapshot = dataset.snapshot("carried-v1")
    pinned = {item["file"]["id"]: item["predictions"] for item in snapshot.page(0, 10, predictions="det")["items"]}
    assert pinned == {**expected, unpredicted: None}
    with pytest.raises(ValueError, match="packed shards hold the pinned annotations only"):
        snapshot.to_pytorch(streaming=True, packed=True, include_predictions="det")

    listing = project.client.get(f"{project._path}/datasets/carried/files", predictions="det")
    assert {f["file_id"]: f["predictions"] for f in listing["files"]} == {**expected, unpredicted: None}
    queried = project.client.get(f"{project._path}/datasets/carried/files", query="labels.car >= 1", predictions="det")
    assert queried["predictions_run"] == run.run_id
    assert {f["file_id"]: f["predictions"] for f in queried["files"]} == {fid: expected[fid] for fid in ids[::2]}

    for ref, named in (("dett", "no model of that name"), ("pr_0000000000000000", "no prediction run with that id")):
        with pytest.raises(InvalidRequest, match=named):
            sliced.page(0, 10, predictions=ref)
    project.model.new("untried", path=platform.models / "yolo.onnx", **DETECTOR)
    untried = sliced.page(0, 10, predictions="untried")  # no finished run yet: nothing predicted
    assert untried["predictions_run"] is None and all(item["predictions"] is None for item in untried["items"])


def test_a_redrive_finishes_what_is_missing_and_predicts_nothing_twice(platform, project, detector):
    from annolake_service.adapters import storage
    from annolake_service.adapters.dynamo import files as file_repo
    from annolake_service.adapters.dynamo import predictions as prediction_repo
    from annolake_service.shared.settings import get_settings

    ids = platform.seed("redrive", [RED, GREEN] * 30, start=1000)
    fixed_later = ids[7]
    record = file_repo.get_file(platform.project_id, fixed_later)
    bucket = get_settings().media_bucket
    good = storage.read_object(bucket, record.original_key, max_bytes=10**6).body
    storage.write_object(bucket, record.original_key, b"truncated", "image/png")

    run = detector.predict("redrive")
    with contextlib.suppress(Exception):
        run.cancel()  # stops the execution wherever it is (it may have finished already)
    with contextlib.suppress(RunFailed):
        run.wait(progress=False, timeout=120)
    first = {p.file_id: p for p in prediction_repo.iter_predictions(platform.project_id, run.run_id)}

    storage.write_object(bucket, record.original_key, good, "image/png")
    run.redrive()
    final = run.wait(progress=False, timeout=120)

    assert (final["status"], final["done"], final["failed"]) == ("completed", 60, 0)
    after = {p.file_id: p for p in prediction_repo.iter_predictions(platform.project_id, run.run_id)}
    assert sorted(after) == sorted(ids)  # one prediction per file
    for fid, prediction in first.items():
        if prediction.outcome == "done":  # predicted once: the re-drive did not touch it
            assert after[fid].predicted_at == prediction.predicted_at
    assert after[fixed_later].outcome == "done"


def test_a_chunk_reads_only_where_each_image_is_and_bumps_the_counters_once(platform, project, detector):
    """A chunk reads the file items projected to their media key (not their instances and summaries) and updates
    the run's live counters once for its files, not once per batch write."""
    from annolake_service.adapters.dynamo import table

    from infra.local import lambda_runtime

    platform.seed("chunk-calls", [RED, GREEN] * 20, start=3500)
    file_reads: list[dict] = []
    counter_bumps: list[dict] = []

    def record(params: dict, **_: object) -> None:
        if "modelfunction" not in (lambda_runtime.running_function.get() or "").lower():
            return  # another function's call (the index updater's, on its stream thread)
        if "RequestItems" in params:  # BatchGetItem
            for read in params["RequestItems"].values():
                if any(key["SK"]["S"] == "FILE" for key in read["Keys"]):
                    file_reads.append(read)
        elif str(params.get("UpdateExpression", "")).startswith("ADD"):
            counter_bumps.append(params)

    events = table.connection().client.meta.events  # the one client every item class of this process uses
    hooks = ["before-parameter-build.dynamodb.BatchGetItem", "before-parameter-build.dynamodb.UpdateItem"]
    for hook in hooks:
        events.register(hook, record)
    try:
        run = detector.predict("chunk-calls", threshold=0.3)
        final = run.wait(progress=False, timeout=120)
    finally:
        for hook in hooks:
            events.unregister(hook, record)

    assert (final["status"], final["total"], final["done"]) == ("completed", 40, 40), final
    projected = {key["PK"]["S"] for read in file_reads if read.get("ProjectionExpression") for key in read["Keys"]}
    assert len(projected) == 40
    assert not [read for read in file_reads if not read.get("ProjectionExpression")]  # no whole items
    assert len(counter_bumps) == 1  # 40 files: two batch writes, one bump


# --- evaluation and selection -----------------------------------------------------------------------------


def test_evaluation_equals_cocoeval_and_ranks_the_files_humans_got_wrong_first(platform, project, detector):
    from annolake_service.services import annotations

    colours = [RED, GREEN] * 10
    ids = platform.seed("eval", colours, start=2000)
    damaged = ids[:3]  # one of the two human boxes removed (1 and 2), or given the other label (0)
    for n, fid in enumerate(damaged):
        current = project.client.get(f"{project._path}/files/{fid}/annotations")
        instances = current["instance_list"]
        if n == 0:
            instances[0]["name"] = "pedestrian" if instances[0]["name"] == "car" else "car"
        else:
            instances = instances[1:]
        annotations.save_annotations(
            platform.project_id, fid, instance_list=instances, expected_version=current["version"], author="user:owner"
        )
    run = detector.predict("eval")
    run.wait(progress=False, timeout=120)

    started = project.client.post(f"{project._path}/runs/{run.run_id}/evaluate", {"iou": 0.5})
    assert started["status"] in ("running", "completed") and started["evaluation_id"].startswith("ev_")
    report = run.evaluate(iou=0.5)  # a second one, followed to its end
    assert report["status"] == "completed" and report["evaluation_id"] != started["evaluation_id"]
    assert run.evaluation() == report
    assert _evaluation_execution_status(platform.project_id, run.run_id) == "SUCCEEDED"  # a state machine step
    files = run.evaluation_files(limit=100)
    assert run.evaluation_files(limit=1500) == files  # more than a page may hold: asked a page at a time

    assert {f["file_id"] for f in files[:3]} == set(damaged)
    assert all(f["disagreement"] == 0 for f in files[3:])
    by_id = {f["file_id"]: f for f in files}
    assert by_id[damaged[0]]["mismatches"] == 1 and by_id[damaged[1]]["fp"] == 1
    assert report["totals"] == {"tp": 37, "fp": 3, "fn": 1}

    truth, found = _coco_inputs(project, run, ids)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = truth
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(found), "bbox")
        evaluator.params.iouThrs = np.array([0.5])
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert report["mean_ap"] == pytest.approx(evaluator.stats[0], abs=1e-6)
    assert 0 < report["mean_ap"] < 1
    for label, cat_id in (("car", 1), ("pedestrian", 2)):  # COCOeval's precision at its recall thresholds
        expected = evaluator.eval["precision"][0, :, cat_id - 1, 0, -1]
        curve = report["pr_curves"][label]
        assert [p for _, p in curve] == pytest.approx(list(expected), abs=1e-6)
        assert [r for r, _ in curve] == pytest.approx(list(evaluator.params.recThrs), abs=1e-4)
    # the three damaged files were saved last by user:owner, the others by the seed: per annotator
    assert report["annotators"] == {
        "seed": {"files": 17, "disagreeing": 0, "rate": 0.0, "mean_disagreement": 0.0},
        "user:owner": {
            "files": 3,
            "disagreeing": 3,
            "rate": 1.0,
            "mean_disagreement": pytest.approx(sum(f["disagreement"] for f in files[:3]) / 3, abs=1e-6),
        },
    }

    from tests.support.auth import reset_service_caches

    with pytest.MonkeyPatch.context() as env:  # one file a page: the SDK follows the cursors up to its limit
        env.setenv("PAGE_MAX_BYTES", "1")
        reset_service_caches()
        assert run.evaluation_files(limit=100) == files and run.evaluation_files(offset=2, limit=4) == files[2:6]
        sent = run.send_to_review(top=5)  # the top files of the whole report, not of a page
    reset_service_caches()
    assert sent["file_ids"] == [f["file_id"] for f in files[:3]]  # the two others agree: nothing to review
    _wait_for_tasks(platform.project_id, sent["job_id"], 3)
    job = project.client.get(f"{project._path}/jobs/{sent['job_id']}")
    assert job["review_rate"] == 1.0 and job["datasets"] == [f"review-{run.run_id}"]


def _evaluation_execution_status(project_id, run_id):
    from annolake_service.adapters import storage, workflows
    from annolake_service.shared.settings import get_settings

    key = storage.run_prefix(project_id, run_id) + "evaluation-request.json"
    request = json.loads(storage.read_object(get_settings().media_bucket, key, max_bytes=10**6).body)
    return workflows.execution_end(request["execution_arn"])[0]


def _wait_for_tasks(project_id, job_id, count, timeout=60):
    """Until the job's launch has opened ``count`` annotate tasks (its executions run in the background)."""
    import time

    from annolake_service.services import tasks

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        opened = tasks.list_tasks(project_id, job_id, status=None, kind=None, limit=100, cursor=None)["tasks"]
        if len(opened) >= count:
            assert {t["kind"] for t in opened} == {"annotate"}
            return opened
        time.sleep(0.5)
    raise AssertionError(f"the job opened {len(opened)} tasks, not {count}")


def _coco_inputs(project, run, ids):
    """COCO ground truth from the API's current annotations and detections from the API's predictions."""
    labels = {"car": 1, "pedestrian": 2, "truck": 3}
    images = {fid: n + 1 for n, fid in enumerate(sorted(ids))}
    truth = {"images": [{"id": i} for i in images.values()], "categories": [{"id": i} for i in labels.values()]}
    truth["annotations"] = []
    found = []
    for fid in ids:
        for box in project.client.get(f"{project._path}/files/{fid}/annotations")["instance_list"]:
            w, h = box["x_max"] - box["x_min"], box["y_max"] - box["y_min"]
            truth["annotations"].append(
                {
                    "id": len(truth["annotations"]) + 1,
                    "image_id": images[fid],
                    "category_id": labels[box["name"]],
                    "bbox": [box["x_min"], box["y_min"], w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for box in run.predictions(fid)["instance_list"]:
            found.append(
                {
                    "image_id": images[fid],
                    "category_id": labels[box["name"]],
                    "bbox": [box["x_min"], box["y_min"], box["x_max"] - box["x_min"], box["y_max"] - box["y_min"]],
                    "score": box["score"],
                }
            )
    return truth, found


def test_select_returns_k_unlabelled_files_the_same_for_the_same_seed(platform, project):
    from annolake_service.services import ingest, projects

    classifier = project.model.new(
        "cls",
        path=platform.models / "classifier.onnx",
        format="classifier",
        labels=["car", "pedestrian"],
        input_size=32,
    )
    labelled = platform.seed("pool", [RED] * 5, start=3000)
    dataset = projects.ensure_dataset(platform.project_id, "pool")
    shades = [(128 + n, 128 - n, 0) for n in range(0, 60, 2)]  # from unsure (grey) to surer (reddish)
    facts = [
        ingest.store_media(platform.project_id, onnx_models.png(32, 32, c, marker=4000 + n))
        for n, c in enumerate(shades)
    ]
    ingest.record_new_files(
        platform.project_id,
        dataset.dataset_id,
        [{"name": f"u{n}.png", "facts": f, "instance_list": [], "metadata": {}} for n, f in enumerate(facts)],
        author="seed",
    )
    unlabelled = [f["file_id"] for f in facts]
    run = classifier.predict("pool")
    final = run.wait(progress=False, timeout=120)
    assert (final["total"], final["done"]) == (35, 35), final  # every file of the pool predicted

    picked = run.select(k=20, strategy="least_confidence", seed=7)
    assert len(picked) == 20 and len(set(picked)) == 20
    assert set(picked) <= set(unlabelled) and not set(picked) & set(labelled)
    assert run.select(k=20, strategy="least_confidence", seed=7) == picked
    assert set(picked) == set(unlabelled[:20])  # the greyest are the least certain
    for strategy in ("margin", "entropy"):
        assert set(run.select(k=20, strategy=strategy, seed=1)) == set(unlabelled[:20])

    # per_class_cap: at most N per class (the file's most probable class), the most uncertain of each class
    answer = run.scope.api.post(f"{run._path}/select", {"k": 20, "per_class_cap": 3, "seed": 7})
    classes = {}
    for fid in unlabelled:
        tags = run.predictions(fid)["instance_list"]
        classes[fid] = max(tags, key=lambda t: t["score"])["name"]
    chosen = {}
    for picked_file in answer["files"]:
        assert picked_file["label"] == classes[picked_file["file_id"]]
        chosen.setdefault(picked_file["label"], []).append(picked_file["file_id"])
    assert chosen and all(len(ids) == 3 for ids in chosen.values())
    assert len(answer["files"]) == 3 * len(set(classes.values()))  # fewer than k: the classes ran out
    ranking = [f["file_id"] for f in run.scope.api.post(f"{run._path}/select", {"k": 1000, "seed": 7})["files"]]
    for label, ids in chosen.items():
        assert ids == [fid for fid in ranking if classes[fid] == label][:3]  # the class's most uncertain, in order
    capped = run.select(k=20, seed=7, per_class_cap=3)
    assert capped == [f["file_id"] for f in answer["files"]] == run.select(k=20, seed=7, per_class_cap=3)
    with pytest.raises(InvalidRequest, match="per_class_cap"):
        run.select(k=20, per_class_cap=0)


def test_an_evaluation_whose_step_fails_reads_as_failed_with_the_steps_error(platform, project, detector, monkeypatch):
    from annolake_service.adapters import storage

    platform.seed("eval-fails", [RED, GREEN], start=5000)
    run = detector.predict("eval-fails")
    run.wait(progress=False, timeout=120)
    write = storage.write_object

    def refuse_reports(bucket, key, body, content_type):
        if key.endswith("/evaluation.json"):
            raise PermissionError("AccessDenied: the report cannot be written")
        return write(bucket, key, body, content_type)

    monkeypatch.setattr(storage, "write_object", refuse_reports)  # the model function runs in this process
    with pytest.raises(RunFailed, match="PermissionError.*the report cannot be written"):
        run.evaluate(iou=0.5)
    failed = run.evaluation()
    assert failed["status"] == "failed" and "ended (FAILED) without a result" in failed["reason"]
    assert failed["mean_ap"] is None


def test_an_evaluation_that_ends_while_its_status_is_read_reads_as_completed(platform, project, detector, monkeypatch):
    """The status reads the summary, then asks the execution: when the execution writes its summary and ends
    between the two, the status is the summary, not "ended (SUCCEEDED) without a result"."""
    from annolake_service.adapters import storage

    platform.seed("eval-race", [RED, GREEN], start=5100)
    run = detector.predict("eval-race")
    run.wait(progress=False, timeout=120)
    report = run.evaluate(iou=0.5)
    read = storage.read_object
    misses = []

    def summary_not_yet_written(bucket, key, **kwargs):
        if key.endswith("/evaluation-summary.json") and not misses:
            misses.append(key)  # the first read comes just before the execution writes it
            raise storage.ObjectMissing(key)
        return read(bucket, key, **kwargs)

    monkeypatch.setattr(storage, "read_object", summary_not_yet_written)
    status = run.evaluation()
    assert misses, "the status did not read the summary"
    assert status["status"] == "completed" and status["reason"] is None
    assert status["mean_ap"] == report["mean_ap"]


def test_the_model_functions_sessions_sleep_between_images_instead_of_spinning():
    """Between two images the model function reads, decodes and records (and locally several chunks share the
    cores): onnxruntime's spinning intra-op threads burnt a core for the whole gap, several times a small
    model's own CPU per image."""
    from annolake_service.adapters import onnx_runtime

    options = onnx_runtime.session_from_bytes(onnx_models.yolo_detector()).get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
