"""Datasets and their per-label summaries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from annolake_service.api.models.files import QueryEnginePublic
from annolake_service.api.models.paging import NextCursor
from annolake_service.domain.entities import DATASET_NAME_PATTERN, Dataset


class DatasetCreate(BaseModel):
    name: str = Field(
        pattern=DATASET_NAME_PATTERN,
        description="1-128 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit",
    )
    description: str = ""


class DatasetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    dataset_id: str
    name: str
    description: str
    created_at: datetime


class DatasetsPublic(BaseModel):
    datasets: list[DatasetPublic]
    cursor: NextCursor = None

    @classmethod
    def of(cls, datasets: list[Dataset]) -> DatasetsPublic:
        return cls(datasets=[DatasetPublic.model_validate(dataset) for dataset in datasets])


class DatasetDetailPublic(DatasetPublic):
    file_count: int

    @classmethod
    def of(cls, dataset: Dataset, file_count: int) -> DatasetDetailPublic:
        return cls(**DatasetPublic.model_validate(dataset).model_dump(), file_count=file_count)


class LabelCountPublic(BaseModel):
    name: str
    colour: str | None = Field(description="the schema's colour; null for a name no longer in the schema")
    files: int = Field(description="files with at least one live instance of the label")
    instances: int = Field(description="live instances of the label in all")


class LabelCountsPublic(BaseModel):
    dataset: str
    query: str | None
    files: int = Field(description="files counted (those matching the query, if any)")
    labels: list[LabelCountPublic]
    engine: QueryEnginePublic
