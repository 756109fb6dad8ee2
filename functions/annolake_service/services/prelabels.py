"""Pre-labelled jobs: the draft an annotate task starts from, the check of a save against the predictions it
names, and what each save did with its draft (for job statistics). The rules are in ``domain/prelabels.py``."""

from __future__ import annotations

from typing import Any

from annolake_service.adapters.dynamo import predictions as prediction_repo
from annolake_service.domain import prelabels as rules
from annolake_service.domain.instances import InvalidInstances
from annolake_service.domain.workflow import Job, Task, TaskKind
from annolake_service.shared.errors import BadRequest

USABLE = ("completed", "completed_with_errors")


def check_run(project_id: str, run_id: str) -> None:
    """A job may pre-label from a run of this project that has finished predicting."""
    run = prediction_repo.get_run(project_id, run_id)
    if run is None:
        raise BadRequest(
            f"prelabel: prediction run {run_id!r} not found in project {project_id!r} (GET …/runs lists them)"
        )
    if run.status not in USABLE:
        raise BadRequest(
            f"prelabel: run {run_id} is {run.status} ({run.done + run.failed} of {run.total} files predicted); "
            "pre-label from a run that has completed"
            + (" (wait for it)" if run.status in ("queued", "running") else " (re-drive it first)"),
            details={"run_status": run.status},
        )


def _predictions(project_id: str, run_id: str, file_id: str) -> rules.RunPredictions | None:
    """The run's prediction of the file (no instances when it has none, or failed on it); None: no such run."""
    run = prediction_repo.get_run(project_id, run_id)
    if run is None:
        return None
    found = prediction_repo.get_predictions(project_id, run_id, [file_id]).get(file_id)
    instances = found.instances if found is not None and found.outcome == "done" else []
    return rules.RunPredictions(run_id, run.model_name, run.model_version, instances)


def stamp(project_id: str, file_id: str, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set ``accepted`` / ``edited`` on the instances (validated) that name a prediction of the file."""
    named = {i["prediction"]["run"] for i in instances if i.get("prediction")}
    if not named:
        return instances
    runs = {run_id: _predictions(project_id, run_id, file_id) for run_id in named}
    try:
        return rules.stamp(instances, runs)
    except InvalidInstances as exc:
        raise BadRequest(str(exc)) from None


def draft(job: Job, task: Task, current: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The draft of an open first-round annotate task of a pre-labelled job (None for any other task): the run's
    predictions of the file at or above the job's ``min_score``, less those the annotations already hold."""
    run_id = job.spec.prelabel
    if run_id is None or task.kind is not TaskKind.ANNOTATE or task.round != 0 or not task.is_open:
        return None
    found = _predictions(job.project_id, run_id, task.file_id)
    taken = [i["prediction"]["index"] for i in current if (i.get("prediction") or {}).get("run") == run_id]
    if found is None:  # the run was deleted after the job was made
        return None
    instances = rules.draft(found, min_score=job.spec.min_score, labels=job.spec.label_names, taken=taken)
    return {
        "run_id": run_id,
        "model": found.model,
        "model_version": found.version,
        "min_score": job.spec.min_score,
        "instance_list": instances,
    }


def outcome(offered: dict[str, Any] | None, saved: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What a save (``saved``: stamped instances) did with the draft it was ``offered``, kept on the task."""
    if offered is None:
        return None
    indexes = [i["prediction"]["index"] for i in offered["instance_list"]]
    return {
        "run": offered["run_id"],
        "model": offered["model"],
        "model_version": offered["model_version"],
        **rules.tally(indexes, offered["run_id"], saved),
    }
