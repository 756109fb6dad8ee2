"""The project's label schema: labels and attribute groups."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import Field

from annolake_service.api import views
from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.domain.schema import AttributeGroup, LabelSpec, Schema
from annolake_service.services import schema as schema_service

router = APIRouter(tags=["schema"])
P = "/projects/{project_string_id}"


class SchemaSave(Schema):
    version: int = Field(ge=0, description="the schema version you last read; a stale one gets 409")


class LabelCreate(LabelSpec):
    colour: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")  # type: ignore[assignment]


def _body(schema: Schema, version: int) -> dict[str, Any]:
    return {"version": version, **schema.model_dump()}


@router.get(P + "/schema", response_model=views.SchemaView)
def get_schema(access: Annotated[ProjectAccess, Depends(require(Action.SCHEMA_READ))]) -> dict[str, Any]:
    return _body(*schema_service.get_schema(access.project_id))


@router.put(P + "/schema", response_model=views.SchemaView)
def save_schema(body: SchemaSave, access: Annotated[ProjectAccess, Depends(require(Action.SCHEMA_WRITE))]) -> dict:
    schema = Schema(labels=body.labels, attribute_groups=body.attribute_groups)
    version = schema_service.save_schema(access.project_id, schema, expected_version=body.version)
    return _body(schema, version)


@router.get(P + "/labels", response_model=views.LabelList)
def list_labels(access: Annotated[ProjectAccess, Depends(require(Action.SCHEMA_READ))]) -> dict[str, Any]:
    schema, _ = schema_service.get_schema(access.project_id)
    return {"labels": [label.model_dump() for label in schema.labels]}


@router.post(P + "/labels", status_code=status.HTTP_201_CREATED, response_model=LabelSpec)
def create_label(body: LabelCreate, access: Annotated[ProjectAccess, Depends(require(Action.SCHEMA_WRITE))]) -> dict:
    schema = schema_service.add_labels(access.project_id, [body.name], colour=body.colour)
    label = next(label for label in schema.labels if label.name == body.name)
    return label.model_dump()


@router.post(P + "/attribute-groups", status_code=status.HTTP_201_CREATED, response_model=views.SchemaView)
def create_attribute_group(
    body: AttributeGroup, access: Annotated[ProjectAccess, Depends(require(Action.SCHEMA_WRITE))]
) -> dict[str, Any]:
    return _body(*schema_service.add_attribute_group(access.project_id, body))
