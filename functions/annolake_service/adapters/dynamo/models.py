"""Registered models and their versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo.conditions import applied
from annolake_service.adapters.dynamo.items import ModelItem, ModelVersionItem
from annolake_service.adapters.dynamo.table import bind, connection
from annolake_service.domain.models import ModelSpec, ModelVersion, RegisteredModel


class VersionRaced(Exception):
    """Another registration took the version number first; read the model again and retry."""


def _model(item: ModelItem) -> RegisteredModel:
    return RegisteredModel(
        project_id=item.project_id,
        name=item.name,
        latest_version=int(item.latest_version or 0),
        latest_run=item.latest_run,
        created_by=item.created_by,
        created_at=item.created_at,
    )


def _version(item: ModelVersionItem) -> ModelVersion:
    return ModelVersion(
        project_id=item.project_id,
        name=item.name,
        version=int(item.version),
        spec=ModelSpec.model_validate(item.spec),
        class_labels=item.class_labels,
        status=item.status,
        status_reason=item.status_reason,
        object_key=item.object_key,
        signature=item.signature,
        created_by=item.created_by,
        created_at=item.created_at,
    )


def get_model(project_id: str, name: str) -> RegisteredModel | None:
    bind()
    try:
        return _model(ModelItem.get(keys.project_pk(project_id), keys.model_sk(name)))
    except ModelItem.DoesNotExist:
        return None


def list_models(project_id: str) -> list[RegisteredModel]:
    bind()
    items = ModelItem.query(keys.project_pk(project_id), ModelItem.SK.startswith(keys.MODEL_PREFIX))
    return [_model(i) for i in items]


def add_version(
    project_id: str,
    name: str,
    *,
    spec: ModelSpec,
    class_labels: list[str | None],
    object_key_for: Any,
    author: str,
    status: str = "awaiting_upload",
) -> ModelVersion:
    """Version ``latest + 1`` of the model (created with version 1), in one transaction with the model's counter."""
    bind()
    current = get_model(project_id, name)
    number = (current.latest_version if current else 0) + 1
    now = datetime.now(UTC)
    version = ModelVersionItem(
        PK=keys.model_versions_pk(project_id, name),
        SK=keys.model_version_sk(number),
        kind=ModelVersionItem.KIND,
        project_id=project_id,
        name=name,
        version=number,
        spec=spec.model_dump(mode="json"),
        class_labels=class_labels,
        status=status,
        object_key=object_key_for(number),
        created_by=author,
        created_at=now,
    )
    try:
        with TransactWrite(connection=connection()) as transaction:
            if current is None:
                transaction.save(
                    ModelItem(
                        PK=keys.project_pk(project_id),
                        SK=keys.model_sk(name),
                        kind=ModelItem.KIND,
                        project_id=project_id,
                        name=name,
                        latest_version=number,
                        created_by=author,
                        created_at=now,
                    ),
                    condition=ModelItem.PK.does_not_exist(),
                )
            else:
                transaction.update(
                    ModelItem(PK=keys.project_pk(project_id), SK=keys.model_sk(name)),
                    actions=[ModelItem.latest_version.set(number)],
                    condition=ModelItem.latest_version == current.latest_version,
                )
            transaction.save(version, condition=ModelVersionItem.PK.does_not_exist())
    except TransactWriteError as exc:
        raise VersionRaced(str(exc)) from None
    return _version(version)


def get_version(project_id: str, name: str, version: int) -> ModelVersion | None:
    bind()
    try:
        return _version(ModelVersionItem.get(keys.model_versions_pk(project_id, name), keys.model_version_sk(version)))
    except ModelVersionItem.DoesNotExist:
        return None


def list_versions(project_id: str, name: str) -> list[ModelVersion]:
    bind()
    return [_version(i) for i in ModelVersionItem.query(keys.model_versions_pk(project_id, name))]


def set_version_status(
    project_id: str, name: str, version: int, *, status: str, reason: str | None, signature: dict | None
) -> None:
    bind()
    ModelVersionItem(PK=keys.model_versions_pk(project_id, name), SK=keys.model_version_sk(version)).update(
        actions=[
            ModelVersionItem.status.set(status),
            ModelVersionItem.status_reason.set(reason),  # type: ignore[arg-type]  # None removes the attribute
            ModelVersionItem.signature.set(signature),
        ],
        condition=ModelVersionItem.PK.exists(),
    )


def set_latest_run(project_id: str, name: str, run_id: str) -> bool:
    bind()
    return applied(
        lambda: ModelItem(PK=keys.project_pk(project_id), SK=keys.model_sk(name)).update(
            actions=[ModelItem.latest_run.set(run_id)], condition=ModelItem.PK.exists()
        )
    )
