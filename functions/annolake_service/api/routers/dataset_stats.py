"""Read-only summaries of a dataset for the web UI's explorer (counts per label)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from annolake_service.api.deps import ProjectAccess, require
from annolake_service.domain.permissions import Action
from annolake_service.services import dataset_stats

router = APIRouter(tags=["datasets"])
P = "/projects/{project_string_id}"


class LabelCount(BaseModel):
    name: str
    colour: str | None = Field(description="the schema's colour; null for a name no longer in the schema")
    files: int = Field(description="files with at least one live instance of the label")
    instances: int = Field(description="live instances of the label in all")


class LabelCounts(BaseModel):
    dataset: str
    query: str | None
    files: int = Field(description="files counted (those matching the query, if any)")
    labels: list[LabelCount]


@router.get(P + "/datasets/{dataset_name}/label-counts", response_model=LabelCounts)
def label_counts(
    dataset_name: str,
    access: Annotated[ProjectAccess, Depends(require(Action.FILE_READ))],
    query: Annotated[str | None, Query(description="count only the files matching this slice query")] = None,
) -> dict[str, Any]:
    """Per label, how many files carry it and how many instances there are (a bad query is a 400)."""
    return dataset_stats.label_counts(access.project_id, dataset_name, query or None)
