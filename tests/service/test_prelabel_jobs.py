"""Pre-labelled jobs against the synthesized template: a real prediction run (the state machine executing, the
model function running an ONNX detector) opens a job whose annotate tasks start from its predictions as a
draft; the saved versions record what the annotator accepted, edited and drew, and the job's stats sum it up."""

from __future__ import annotations

import time

import pytest
from annolake import AnnolakeAPIError

from tests.support import onnx_models
from tests.support.model_platform import RED, model_platform, unique_project

DULL_RED = (180, 44, 0)  # the detector scores its cars about 0.6: under the job's min_score


@pytest.fixture(scope="module")
def platform(local_stack, moto_endpoint, tmp_path_factory):
    with model_platform(local_stack, moto_endpoint, unique_project("prelabel")) as running:
        path = tmp_path_factory.mktemp("onnx") / "yolo.onnx"
        path.write_bytes(onnx_models.yolo_detector(64))
        running.detector = running.project().model.new(  # type: ignore[attr-defined]
            "det", path=path, format="yolo", labels=["car", "pedestrian"], input_size=64, score_threshold=0.3
        )
        yield running


def _unlabelled(platform, dataset: str, colours, start: int) -> list[str]:
    from annolake_service.services import ingest, projects

    target = projects.ensure_dataset(platform.project_id, dataset)
    facts = [
        ingest.store_media(platform.project_id, onnx_models.png(64, 64, c, marker=start + n))
        for n, c in enumerate(colours)
    ]
    ingest.record_new_files(
        platform.project_id,
        target.dataset_id,
        [{"name": f"{dataset}{n}.png", "facts": f, "instance_list": [], "metadata": {}} for n, f in enumerate(facts)],
        author="seed",
    )
    return [f["file_id"] for f in facts]


def _annotate_tasks(project, job, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(job.tasks(kind="annotate")) < count:
        assert time.monotonic() < deadline, f"the job opened fewer than {count} annotate tasks"
        time.sleep(0.5)


def _take(project, job, file_ids: dict[str, str]):
    """The caller's next task of the job, with the raw answer of POST /tasks/next."""
    answer = project.client.post(f"{project._path}/tasks/next", {"job_id": job.id, "kind": "annotate"})
    task = project.task.get(answer["task"]["task_id"])
    return file_ids[task.file_id], task, answer


def test_a_prelabelled_job_opens_drafts_and_its_stats_count_what_annotators_did_with_them(platform):
    project = platform.project()
    red_a, red_b, dull = _unlabelled(platform, "pre", [RED, RED, DULL_RED], start=7000)
    names = {red_a: "red_a", red_b: "red_b", dull: "dull"}
    run = platform.detector.predict("pre", threshold=0.3)
    run.wait(progress=False, timeout=120)
    assert all(i["score"] < 0.7 for i in run.predictions(dull)["instance_list"])

    job = project.job.new("prelabelled", ["pre"], mode="copy_once", prelabel=run, min_score=0.7)
    assert (job.data["prelabel"], job.data["min_score"]) == (run.run_id, 0.7)
    job.launch()
    _annotate_tasks(project, job, 3)

    saved = {}
    for _ in range(3):
        name, task, answer = _take(project, job, names)
        draft = task.draft
        assert answer["draft"]["instance_list"] == draft  # POST /tasks/next carries the draft too
        assert task.instance_list == [] and task.version == 0  # a draft is no annotation version
        if name == "dull":
            assert draft == []  # its predictions score under min_score
            drawn = {"type": "box", "name": "truck", "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9}
            saved[name] = task.submit([drawn])
            continue
        assert len(draft) == 2
        for instance in draft:
            assert instance["source"] == "model" and instance["name"] == "car"
            ref = instance["prediction"]
            assert (ref["run"], ref["model"], ref["version"]) == (run.run_id, "det", platform.detector.version)
            assert ref["score"] > 0.9 and "id" not in instance
        first, second = ({**i} for i in draft)
        if name == "red_a":  # accept the first (a client's rounding aside), edit the second, draw one
            first["x_min"] += 0.004
            second["x_max"] -= 3
            drawn = {"type": "box", "name": "pedestrian", "x_min": 50, "y_min": 50, "x_max": 60, "y_max": 60}
            saved[name] = task.submit([first, second, drawn])
        else:  # accept the first, delete the second
            saved[name] = task.submit([first])

    current = project.client.get(f"{project._path}/files/{red_a}/annotations")
    sources = [(i["source"], i.get("prediction", {}).get("index")) for i in current["instance_list"]]
    assert sorted(sources, key=str) == sorted([("accepted", 0), ("edited", 1), ("human", None)], key=str)
    accepted = next(i for i in current["instance_list"] if i["source"] == "accepted")
    assert accepted["prediction"]["score"] > 0.9 and accepted["prediction"]["model"] == "det"

    stats = job.stats()
    [by_model] = stats["prelabel"]
    assert (by_model["model"], by_model["model_version"], by_model["run"]) == ("det", 1, run.run_id)
    counts = {k: by_model[k] for k in ("tasks", "offered", "accepted", "edited", "deleted", "drawn")}
    assert counts == {"tasks": 3, "offered": 4, "accepted": 2, "edited": 1, "deleted": 1, "drawn": 2}
    assert (by_model["acceptance_rate"], by_model["edit_rate"], by_model["deletion_rate"]) == (0.5, 0.25, 0.25)

    # Saved again as read, nothing changes: the sources are derived again, the same.
    again = project.client.put(
        f"{project._path}/files/{red_a}/annotations",
        {"instance_list": current["instance_list"], "version": current["version"]},
    )
    assert again["changes"]["unchanged"] == 3 and again["changes"]["updated"] == 0
    # Moved by hand afterwards, an accepted prediction becomes an edited one.
    moved = [{**i, "y_max": i["y_max"] - 2} if i["source"] == "accepted" else i for i in again["instance_list"]]
    after = project.client.put(
        f"{project._path}/files/{red_a}/annotations", {"instance_list": moved, "version": again["version"]}
    )
    assert sorted(i["source"] for i in after["instance_list"]) == ["edited", "edited", "human"]


def test_a_client_cannot_claim_an_accepted_prediction_the_run_does_not_hold(platform):
    project = platform.project()
    [file_id] = _unlabelled(platform, "claims", [RED], start=7100)
    run = platform.detector.predict("claims")
    run.wait(progress=False, timeout=120)
    current = project.client.get(f"{project._path}/files/{file_id}/annotations")
    box = {"type": "box", "name": "car", "x_min": 1, "y_min": 1, "x_max": 9, "y_max": 9}

    def save(*instances):
        body = {"instance_list": list(instances), "version": current["version"]}
        return project.client.put(f"{project._path}/files/{file_id}/annotations", body)

    with pytest.raises(AnnolakeAPIError, match="source 'accepted' is set by the server"):
        save({**box, "source": "accepted"})
    with pytest.raises(AnnolakeAPIError, match=f"prediction 7 of run {run.run_id}, which this file's predictions"):
        save({**box, "prediction": {"run": run.run_id, "index": 7}})
    with pytest.raises(AnnolakeAPIError, match="both name prediction 0"):
        ref = {"run": run.run_id, "index": 0}
        save({**box, "prediction": ref}, {**box, "prediction": ref})
    claimed = save({**box, "source": "accepted", "prediction": {"run": run.run_id, "index": 0, "score": 1.0}})
    [stored] = claimed["instance_list"]
    assert stored["source"] == "edited"  # not the prediction's box: the server says so, whatever was sent
    assert stored["prediction"]["score"] == run.predictions(file_id)["instance_list"][0]["score"]


def test_a_job_prelabels_only_from_a_completed_run_and_without_consensus(platform):
    project = platform.project()
    _unlabelled(platform, "refused", [RED] * 30, start=7200)
    with pytest.raises(AnnolakeAPIError, match="prediction run 'pr_missing' not found"):
        project.job.new("j", ["refused"], prelabel="pr_missing")
    cancelled = platform.detector.predict("refused")
    cancelled.cancel()
    with pytest.raises(AnnolakeAPIError, match=f"run {cancelled.run_id} is cancelled .*re-drive it first"):
        project.job.new("j", ["refused"], prelabel=cancelled)
    with pytest.raises(AnnolakeAPIError, match="min_score applies to pre-labelling"):
        project.job.new("j", ["refused"], min_score=0.5)
    with pytest.raises(AnnolakeAPIError, match="prelabel needs consensus 1"):
        project.job.new("j", ["refused"], prelabel=cancelled, consensus=2)
