"""Label schema use cases: read, replace with optimistic locking, add labels."""

from __future__ import annotations

from annolake_service.adapters.dynamo import datasets as dataset_repo
from annolake_service.adapters.dynamo.conditions import VersionConflict
from annolake_service.domain.schema import AttributeGroup, LabelSpec, Schema
from annolake_service.shared.errors import BadRequest, Conflict

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def get_schema(project_id: str) -> tuple[Schema, int]:
    document, version = dataset_repo.get_schema(project_id)
    return Schema.model_validate(document), version


def save_schema(project_id: str, schema: Schema, *, expected_version: int) -> int:
    names = [label.name for label in schema.labels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadRequest(f"label names must be unique; repeated: {duplicates}")
    groups = [g.name for g in schema.attribute_groups]
    if len(groups) != len(set(groups)):
        raise BadRequest("attribute group names must be unique")
    unknown = sorted({n for g in schema.attribute_groups for n in g.label_names} - set(names))
    if unknown:
        raise BadRequest(f"attribute groups refer to labels that are not in the schema: {unknown}")
    if problems := schema.default_problems():
        raise BadRequest("; ".join(problems), details={"problems": problems})
    try:
        return dataset_repo.save_schema(project_id, schema.model_dump(), expected_version=expected_version)
    except VersionConflict as exc:
        raise Conflict(
            f"the schema changed since version {expected_version}; reload it (now version {exc.current})",
            details={"current_version": exc.current},
        ) from None


def add_labels(project_id: str, names: list[str], colour: str | None = None) -> Schema:
    """Add labels that are missing (existing ones are left alone); retries on concurrent edits."""
    for _ in range(5):
        schema, version = get_schema(project_id)
        missing = [n for n in dict.fromkeys(names) if n not in schema.label_names]
        if not missing:
            return schema
        for name in missing:
            schema.labels.append(LabelSpec(name=name, colour=colour or _PALETTE[len(schema.labels) % len(_PALETTE)]))
        try:
            save_schema(project_id, schema, expected_version=version)
        except Conflict:
            continue
        return schema
    raise Conflict("the schema is being edited concurrently; try again")


def add_attribute_group(project_id: str, group: AttributeGroup) -> tuple[Schema, int]:
    schema, version = get_schema(project_id)
    if any(g.name == group.name for g in schema.attribute_groups):
        raise Conflict(f"attribute group {group.name!r} already exists; edit the schema to change it")
    schema.attribute_groups.append(group)
    return schema, save_schema(project_id, schema, expected_version=version)
