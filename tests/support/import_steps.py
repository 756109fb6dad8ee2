"""Run an import job's steps in-process (plan, each chunk, finish: what the import state machine runs), with its
manifest and media put into S3 as the SDK's presigned POSTs would."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3


def run_import(project_id: str, fmt: str, dataset: str, manifest: bytes, media: dict[str, bytes]) -> dict:
    from annolake_service.services import imports

    job = imports.create_import(project_id, fmt=fmt, dataset_name=dataset, create_labels=True, author="test")
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    bucket, prefix = os.environ["MEDIA_BUCKET"], f"imports/{project_id}/{job['import_id']}/"
    s3.put_object(Bucket=bucket, Key=prefix + "manifest", Body=manifest)
    for name, body in media.items():
        s3.put_object(Bucket=bucket, Key=prefix + "media/" + name, Body=body)
    return run_steps(project_id, job["import_id"])


def run_steps(project_id: str, import_id: str) -> dict:
    """The import state machine's steps on an import whose manifest and media are uploaded (again: a re-drive)."""
    from annolake_service.services import imports

    planned = imports.plan(project_id, import_id)
    for chunk in planned["chunks"]:
        imports.import_chunk(project_id, import_id, chunk["chunk_key"])
    imports.finish(project_id, import_id)
    return imports.get_import(project_id, import_id)


def run_coco_import(project_id: str, dataset: str, document: dict, media: dict[str, bytes]) -> dict:
    return run_import(project_id, "coco", dataset, json.dumps(document).encode(), media)


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path (what an SDK import uploads)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
