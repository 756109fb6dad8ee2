"""Prediction runs and each file's prediction in a run (written once per run and file)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.expressions.update import Action

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import applied
from annolake_service.adapters.dynamo.items import PredictionItem, PredictionRunItem
from annolake_service.adapters.dynamo.table import bind
from annolake_service.domain.predictions import FilePrediction, PredictionRun

_BATCH_GET = 100


def _run(item: PredictionRunItem) -> PredictionRun:
    return PredictionRun(
        project_id=item.project_id,
        run_id=item.run_id,
        model_name=item.model_name,
        model_version=int(item.model_version),
        dataset=item.dataset_name,
        query=item.query_text,
        threshold=float(item.threshold),
        slice_id=item.slice_id,
        status=item.status,
        status_reason=item.status_reason,
        total=int(item.total or 0),
        done=int(item.done or 0),
        failed=int(item.failed or 0),
        execution_arn=item.execution_arn,
        created_by=item.created_by,
        created_at=item.created_at,
        started_at=item.started_at,
        finished_at=item.finished_at,
    )


def _prediction(item: PredictionItem) -> FilePrediction:
    return FilePrediction(
        run_id=item.run_id,
        file_id=item.file_id,
        outcome=item.outcome,
        instances=item.instances or [],
        summary=item.summary or {},
        probabilities=item.probabilities,
        reason=item.reason,
        predicted_at=item.predicted_at,
    )


def _run_key(project_id: str, run_id: str) -> PredictionRunItem:
    return PredictionRunItem(PK=keys.project_pk(project_id), SK=keys.run_sk(run_id))


def create_run(run: PredictionRun) -> None:
    bind()
    PredictionRunItem(
        PK=keys.project_pk(run.project_id),
        SK=keys.run_sk(run.run_id),
        kind=PredictionRunItem.KIND,
        project_id=run.project_id,
        run_id=run.run_id,
        model_name=run.model_name,
        model_version=run.model_version,
        dataset_name=run.dataset,
        query_text=run.query,
        threshold=run.threshold,
        slice_id=run.slice_id,
        status=run.status,
        total=run.total,
        created_by=run.created_by,
        created_at=run.created_at,
    ).save(condition=PredictionRunItem.PK.does_not_exist())


def get_run(project_id: str, run_id: str) -> PredictionRun | None:
    bind()
    try:
        return _run(PredictionRunItem.get(keys.project_pk(project_id), keys.run_sk(run_id)))
    except PredictionRunItem.DoesNotExist:
        return None


def list_runs(project_id: str, model_name: str | None = None) -> list[PredictionRun]:
    """The project's runs (optionally of one model), newest first."""
    bind()
    condition = PredictionRunItem.model_name == model_name if model_name else None
    items = PredictionRunItem.query(
        keys.project_pk(project_id), PredictionRunItem.SK.startswith(keys.RUN_PREFIX), filter_condition=condition
    )
    return sorted((_run(i) for i in items), key=lambda run: run.created_at, reverse=True)


def mark_run(
    project_id: str,
    run_id: str,
    *,
    status: str,
    reason: str | None = None,
    execution_arn: str | None = None,
    started: bool = False,
    finished: bool = False,
    unless_status: tuple[str, ...] = (),
) -> bool:
    """Set the run's status; False (nothing written) when its status is one of ``unless_status``."""
    bind()
    actions: list[Action] = [
        PredictionRunItem.status.set(status),
        PredictionRunItem.status_reason.set(reason),  # type: ignore[arg-type]  # None removes the attribute
        PredictionRunItem.finished_at.set(datetime.now(UTC) if finished else None),  # type: ignore[arg-type]
    ]
    if execution_arn is not None:
        actions.append(PredictionRunItem.execution_arn.set(execution_arn))
    if started:
        actions.append(PredictionRunItem.started_at.set(datetime.now(UTC)))
    condition = PredictionRunItem.PK.exists()
    for refused in unless_status:
        condition &= PredictionRunItem.status != refused
    return applied(lambda: _run_key(project_id, run_id).update(actions=actions, condition=condition))


def set_execution(project_id: str, run_id: str, execution_arn: str) -> None:
    """The run's current execution (cancel stops it); its status is the steps' to set."""
    bind()
    _run_key(project_id, run_id).update(actions=[PredictionRunItem.execution_arn.set(execution_arn)])


@dataclass(frozen=True)
class Outcome:
    """One file's outcome, to record: its instances, summary and class distribution, or why it failed."""

    file_id: str
    instances: list[dict[str, Any]]
    summary: dict[str, Any]
    probabilities: list[float] | None
    reason: str | None


def record_predictions(project_id: str, run_id: str, outcomes: list[Outcome]) -> None:
    """Write the outcomes of files not yet done in the run, in batches (one request per 25 files).

    Keyed by run and file, so a file has one prediction per run however often it is written. The caller passes
    only files it found not done (``get_predictions``), and a run's chunks never run twice at once (a re-drive
    is refused while the run is active), so a done prediction is not written again.
    """
    bind()
    now = datetime.now(UTC)
    with PredictionItem.batch_write() as batch:
        for o in outcomes:
            batch.save(
                PredictionItem(
                    PK=keys.run_pk(project_id, run_id),
                    SK=keys.prediction_sk(o.file_id),
                    kind=PredictionItem.KIND,
                    project_id=project_id,
                    run_id=run_id,
                    file_id=o.file_id,
                    outcome="failed" if o.reason else "done",
                    instances=o.instances,
                    summary=o.summary,
                    probabilities=o.probabilities,
                    reason=o.reason[:1000] if o.reason else None,
                    predicted_at=now,
                )
            )


def add_progress(project_id: str, run_id: str, *, done: int, failed: int) -> None:
    """Bump the live counters by what a chunk recorded (one write for several files); ``recount`` makes them exact
    at the end."""
    bind()
    actions: list[Action] = [PredictionRunItem.done.add(done), PredictionRunItem.failed.add(failed)]
    _run_key(project_id, run_id).update(actions=actions)


def done_file_ids(project_id: str, run_id: str) -> set[str]:
    bind()
    items = PredictionItem.query(
        keys.run_pk(project_id, run_id),
        filter_condition=PredictionItem.outcome == "done",
        attributes_to_get=["file_id"],
    )
    return {i.file_id for i in items}


def reset_counters(project_id: str, run_id: str, total: int) -> None:
    bind()
    _run_key(project_id, run_id).update(
        actions=[PredictionRunItem.total.set(total), PredictionRunItem.done.set(0), PredictionRunItem.failed.set(0)]
    )


def recount(project_id: str, run_id: str) -> tuple[int, int]:
    """Set the run's done/failed counters from its recorded predictions; returns (done, failed).

    One read of the run's partition, of each item's outcome only (not its instances)."""
    bind()
    outcomes = Counter(
        item.outcome
        for item in PredictionItem.query(
            keys.run_pk(project_id, run_id),
            PredictionItem.SK.startswith(keys.prediction_sk("")),
            attributes_to_get=["outcome"],
        )
    )
    done, failed = outcomes["done"], outcomes["failed"]
    _run_key(project_id, run_id).update(
        actions=[PredictionRunItem.done.set(done), PredictionRunItem.failed.set(failed)]
    )
    return done, failed


def iter_predictions(
    project_id: str, run_id: str, outcome: str | None = None, *, after_file_id: str | None = None
) -> Iterator[FilePrediction]:
    """The run's predictions in file id order (those after ``after_file_id``)."""
    bind()
    condition = PredictionItem.outcome == outcome if outcome else None
    after = PredictionItem.SK > keys.prediction_sk(after_file_id) if after_file_id is not None else None  # noqa: SIM300
    for item in PredictionItem.query(keys.run_pk(project_id, run_id), after, filter_condition=condition):
        yield _prediction(item)


def get_predictions(project_id: str, run_id: str, file_ids: list[str]) -> dict[str, FilePrediction]:
    """The run's predictions of these files (those it has), by file id."""
    bind()
    found: dict[str, FilePrediction] = {}
    pk = keys.run_pk(project_id, run_id)
    for start in range(0, len(file_ids), _BATCH_GET):
        batch = [(pk, keys.prediction_sk(f)) for f in dict.fromkeys(file_ids[start : start + _BATCH_GET])]
        for item in PredictionItem.batch_get(batch):
            found[item.file_id] = _prediction(item)
    return found
