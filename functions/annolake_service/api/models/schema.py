"""The project's label schema: labels (``LabelSpec``) and attribute groups (``AttributeGroup``), versioned."""

from __future__ import annotations

from pydantic import BaseModel, Field

from annolake_service.domain.schema import AttributeGroup, LabelSpec, Schema


class SchemaUpdate(Schema):
    version: int = Field(ge=0, strict=True, description="the schema version you last read; a stale one gets 409")


class SchemaPublic(BaseModel):
    version: int
    labels: list[LabelSpec]
    attribute_groups: list[AttributeGroup]

    @classmethod
    def of(cls, schema: Schema, version: int) -> SchemaPublic:
        return cls(version=version, labels=schema.labels, attribute_groups=schema.attribute_groups)


class LabelCreate(LabelSpec):
    colour: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")  # type: ignore[assignment]


class LabelsPublic(BaseModel):
    labels: list[LabelSpec]
