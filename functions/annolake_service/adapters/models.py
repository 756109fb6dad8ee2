"""PynamoDB models of the single table. Key layout and access patterns: see ``store.py``."""

from __future__ import annotations

from functools import cache

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from annolake_service.shared.settings import get_settings


class Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    GSI1PK = UnicodeAttribute(hash_key=True)
    GSI1SK = UnicodeAttribute(range_key=True)


class Item(Model):
    class Meta:
        table_name = "unset"

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()


class _IndexedItem(Item):
    GSI1PK = UnicodeAttribute(null=True)
    GSI1SK = UnicodeAttribute(null=True)
    gsi1 = Gsi1()


class ProjectItem(_IndexedItem):
    project_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class MemberItem(_IndexedItem):
    project_id = UnicodeAttribute()
    principal_id = UnicodeAttribute()
    role = UnicodeAttribute()
    added_at = UTCDateTimeAttribute(null=True)


class ApiKeyItem(_IndexedItem):
    project_id = UnicodeAttribute()
    client_id = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    role = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    created_by = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)


class DatasetItem(Item):
    project_id = UnicodeAttribute()
    dataset_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()


class SchemaItem(Item):
    """The project's label schema as one document, edited with optimistic locking."""

    project_id = UnicodeAttribute()
    document = JSONAttribute()
    version = VersionAttribute()


class FileItem(Item):
    project_id = UnicodeAttribute()
    file_id = UnicodeAttribute()
    original_name = UnicodeAttribute()
    media_type = UnicodeAttribute(default="image")
    mime_type = UnicodeAttribute(default="")
    status = UnicodeAttribute()
    status_reason = UnicodeAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    size_bytes = NumberAttribute(null=True)
    content_hash = UnicodeAttribute(null=True)
    original_key = UnicodeAttribute(null=True)
    thumbnail_key = UnicodeAttribute(null=True)
    file_metadata = JSONAttribute(default=dict)
    label_counts = MapAttribute(default=dict)
    attribute_summary = MapAttribute(attr_name="attribute_values", default=dict)  # pynamodb reserves the name
    annotation_version = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    deleted_at = UTCDateTimeAttribute(null=True)


class DatasetMemberItem(_IndexedItem):
    """A file's place in a dataset, carrying a copy of the file's summary so slice queries filter here."""

    project_id = UnicodeAttribute()
    dataset_id = UnicodeAttribute()
    file_id = UnicodeAttribute()
    status = UnicodeAttribute(default="ready")
    original_name = UnicodeAttribute(null=True)
    media_type = UnicodeAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    label_counts = MapAttribute(default=dict)
    attribute_summary = MapAttribute(attr_name="attribute_values", default=dict)


class AnnotationVersionItem(Item):
    project_id = UnicodeAttribute()
    file_id = UnicodeAttribute()
    version = NumberAttribute()
    instance_list = JSONAttribute()
    deleted = JSONAttribute(default=list)
    created_by = UnicodeAttribute()
    source = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class UploadItem(Item):
    """A presigned upload and, once ingested, the file it became."""

    project_id = UnicodeAttribute()
    upload_id = UnicodeAttribute()
    dataset_name = UnicodeAttribute()
    file_name = UnicodeAttribute()
    status = UnicodeAttribute(default="pending")
    status_reason = UnicodeAttribute(null=True)
    file_id = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    ttl = NumberAttribute(null=True)


class ImportJobItem(Item):
    """A bulk import: its source, progress counters (updated atomically) and outcome."""

    project_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    format = UnicodeAttribute()
    dataset_name = UnicodeAttribute()
    create_labels = BooleanAttribute(default=False)
    status = UnicodeAttribute()
    status_reason = UnicodeAttribute(null=True)
    total = NumberAttribute(default=0)
    done = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)


class ImportOutcomeItem(Item):
    """What happened to one item of an import; written once, so counters count each item once."""

    project_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    item_index = NumberAttribute()
    name = UnicodeAttribute()
    outcome = UnicodeAttribute()  # "done" | "failed"
    file_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)


class ArrivalItem(Item):
    """Which file a drop-folder path became (so a sidecar arriving after its image can find it)."""

    project_id = UnicodeAttribute()
    file_id = UnicodeAttribute()


MODELS: tuple[type[Item], ...] = (
    ProjectItem,
    MemberItem,
    ApiKeyItem,
    DatasetItem,
    SchemaItem,
    FileItem,
    DatasetMemberItem,
    AnnotationVersionItem,
    UploadItem,
    ImportJobItem,
    ImportOutcomeItem,
    ArrivalItem,
)


@cache
def bind() -> None:
    """Point every model at the configured table (and at the emulator when running locally)."""
    settings = get_settings()
    for model in MODELS:
        model.Meta.table_name = settings.table_name
        model.Meta.region = settings.aws_region
        model.Meta.host = settings.aws_endpoint_url
        model.Meta.max_retry_attempts = 5
