"""The project's label schema (versioned), its labels and its attribute groups."""

from __future__ import annotations

from fastapi import APIRouter, status

from annolake_service.api.deps import PROJECT_PATH, CanReadSchema, CanWriteSchema
from annolake_service.api.models.errors import PROJECT_ERRORS, error_responses
from annolake_service.api.models.schema import LabelCreate, LabelsPublic, SchemaPublic, SchemaUpdate
from annolake_service.domain.schema import AttributeGroup, LabelSpec, Schema
from annolake_service.services import schema as schema_service

schema_router = APIRouter(prefix=f"{PROJECT_PATH}/schema")
labels_router = APIRouter(prefix=f"{PROJECT_PATH}/labels")
attribute_groups_router = APIRouter(prefix=f"{PROJECT_PATH}/attribute-groups")


@schema_router.get("")
def get_schema(access: CanReadSchema) -> SchemaPublic:
    return SchemaPublic.of(*schema_service.get_schema(access.project_id))


@schema_router.put("", responses=error_responses(400, 409))
def save_schema(body: SchemaUpdate, access: CanWriteSchema) -> SchemaPublic:
    """Replace the labels and attribute groups; 409 when ``version`` is not the current one."""
    schema = Schema(labels=body.labels, attribute_groups=body.attribute_groups)
    version = schema_service.save_schema(access.project_id, schema, expected_version=body.version)
    return SchemaPublic.of(schema, version)


@labels_router.get("")
def list_labels(access: CanReadSchema) -> LabelsPublic:
    schema, _ = schema_service.get_schema(access.project_id)
    return LabelsPublic(labels=schema.labels)


@labels_router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409))
def create_label(body: LabelCreate, access: CanWriteSchema) -> LabelSpec:
    """Add a label to the schema (an existing name is left as it is)."""
    schema = schema_service.add_labels(access.project_id, [body.name], colour=body.colour)
    return next(label for label in schema.labels if label.name == body.name)


@attribute_groups_router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409))
def create_attribute_group(body: AttributeGroup, access: CanWriteSchema) -> SchemaPublic:
    return SchemaPublic.of(*schema_service.add_attribute_group(access.project_id, body))


router = APIRouter(tags=["schema"], responses=PROJECT_ERRORS)
for _part in (schema_router, labels_router, attribute_groups_router):
    router.include_router(_part)
