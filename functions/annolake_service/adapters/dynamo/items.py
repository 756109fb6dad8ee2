"""The PynamoDB item classes of the single table (keys: ``keys.py``). ``KIND`` is each item's ``kind`` attribute."""

from __future__ import annotations

from typing import Any, ClassVar

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    GSI1PK = UnicodeAttribute(hash_key=True)
    GSI1SK = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex):
    class Meta:
        index_name = "GSI2"
        projection = AllProjection()

    GSI2PK = UnicodeAttribute(hash_key=True)
    GSI2SK = UnicodeAttribute(range_key=True)


class Item(Model):
    class Meta:
        table_name = "unset"
        # Declared only (pynamodb fills the defaults); table.bind() sets them from the settings.
        region: str | None
        host: str | None
        max_retry_attempts: int

    PK = UnicodeAttribute(hash_key=True)
    SK = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()


class _IndexedItem(Item):
    GSI1PK = UnicodeAttribute(null=True)
    GSI1SK = UnicodeAttribute(null=True)
    gsi1 = Gsi1()


class ProjectItem(_IndexedItem):
    KIND: ClassVar[str] = "project"

    project_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class MemberItem(_IndexedItem):
    KIND: ClassVar[str] = "member"

    project_id = UnicodeAttribute()
    principal_id = UnicodeAttribute()
    role = UnicodeAttribute()
    added_at = UTCDateTimeAttribute(null=True)


class ApiKeyItem(_IndexedItem):
    KIND: ClassVar[str] = "api_key"

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
    KIND: ClassVar[str] = "dataset"

    project_id = UnicodeAttribute()
    dataset_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    created_at = UTCDateTimeAttribute()


class SchemaItem(Item):
    """The project's label schema as one document, edited with optimistic locking."""

    KIND: ClassVar[str] = "schema"

    project_id = UnicodeAttribute()
    document = JSONAttribute()
    version = VersionAttribute()


class FileItem(Item):
    KIND: ClassVar[str] = "file"

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
    video = JSONAttribute(null=True)  # VideoFacts of a video (frame count, fps, where its frames are)
    file_metadata = JSONAttribute(default=dict)
    label_counts: MapAttribute[str, Any] = MapAttribute(default=dict)
    frame_counts: MapAttribute[str, Any] = MapAttribute(default=dict)  # a video's frames per label
    # pynamodb reserves the name attribute_values
    attribute_summary: MapAttribute[str, Any] = MapAttribute(attr_name="attribute_values", default=dict)
    annotation_version = NumberAttribute(default=0)
    # The live instances of version ``annotation_version`` when small (see files.CARRIED_INSTANCE_BYTES), so a
    # page of files with their annotations is one read; otherwise null and read from the version item.
    current_instances = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    deleted_at = UTCDateTimeAttribute(null=True)
    # The datasets listing the file, added to with each membership, so that a save copies its summary onto them
    # in its own transaction. Named in full (``dataset_ids_complete``) from the file's first write, or once a
    # save has read its memberships; then a superset (a removed membership may leave its id: the save finds
    # out and names the live ones). A file written before they were kept may hold only the ids added since.
    dataset_ids = UnicodeSetAttribute(null=True)
    dataset_ids_complete = BooleanAttribute(null=True)


class DatasetMemberItem(_IndexedItem):
    """A file's place in a dataset, carrying a copy of the file's summary so slice queries filter here."""

    KIND: ClassVar[str] = "dataset_member"

    project_id = UnicodeAttribute()
    dataset_id = UnicodeAttribute()
    file_id = UnicodeAttribute()
    status = UnicodeAttribute(default="ready")
    original_name = UnicodeAttribute(null=True)
    media_type = UnicodeAttribute(null=True)
    width = NumberAttribute(null=True)
    height = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    label_counts: MapAttribute[str, Any] = MapAttribute(default=dict)
    attribute_summary: MapAttribute[str, Any] = MapAttribute(attr_name="attribute_values", default=dict)
    summary_version = NumberAttribute(null=True)  # the annotation version the summary copy was taken from


class DatasetCountItem(Item):
    """How many live (not deleted) memberships one shard of a dataset has, moved in the same transaction as each
    membership write that changes it. ``moves`` counts those writes (a recount stores its figure only if none
    landed meanwhile); ``exact`` marks a counter kept since its dataset was created, or recounted since."""

    KIND: ClassVar[str] = "dataset_count"

    live = NumberAttribute(default=0)
    moves = NumberAttribute(default=0)
    exact = BooleanAttribute(null=True)


class AnnotationVersionItem(Item):
    KIND: ClassVar[str] = "annotation_version"

    project_id = UnicodeAttribute()
    file_id = UnicodeAttribute()
    version = NumberAttribute()
    instance_list = JSONAttribute()
    deleted = JSONAttribute(default=list)
    created_by = UnicodeAttribute()
    source = UnicodeAttribute()
    task_id = UnicodeAttribute(null=True)  # the workflow task whose submission this version is
    created_at = UTCDateTimeAttribute()


class UploadItem(Item):
    """A presigned upload and, once ingested, the file it became."""

    KIND: ClassVar[str] = "upload"

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
    import_id = UnicodeAttribute(null=True)  # a video an import handed over: its ingest settles the import's item
    import_item = NumberAttribute(null=True)


class ImportJobItem(Item):
    """A bulk import: its source, progress counters (updated atomically) and outcome."""

    KIND: ClassVar[str] = "import"

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
    execution_arn = UnicodeAttribute(null=True)
    awaiting_videos = BooleanAttribute(null=True)  # the run ended; the import completes when no video waits


class ImportOutcomeItem(Item):
    """What happened to one item of an import; written once, so counters count each item once. Under
    ``WAIT#<index>`` (outcome "waiting"): a video handed to the video ingest, whose result is not in yet."""

    KIND: ClassVar[str] = "import_outcome"

    project_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    item_index = NumberAttribute()
    name = UnicodeAttribute()
    outcome = UnicodeAttribute()  # "done" | "failed" | "waiting"
    file_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    waiting_since = UTCDateTimeAttribute(null=True)  # a waiting mark's: when its video was handed over


class JobItem(Item):
    """A labelling job: its settings (``spec``, a ``domain.workflow.JobSpec``), status and launch progress."""

    KIND: ClassVar[str] = "job"

    project_id = UnicodeAttribute()
    job_id = UnicodeAttribute()
    spec = JSONAttribute()
    dataset_ids = JSONAttribute(default=list)
    status = UnicodeAttribute()
    launch_status = UnicodeAttribute(default="not_launched")  # not_launched | launching | launched | failed
    launch_failure = UnicodeAttribute(null=True)
    launch_execution = UnicodeAttribute(null=True)
    files_total = NumberAttribute(default=0)
    files_done = NumberAttribute(default=0)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    launched_at = UTCDateTimeAttribute(null=True)
    completed_at = UTCDateTimeAttribute(null=True)


class TaskItem(_IndexedItem):
    """One unit of work; ``task_token`` (the workflow's callback token) never leaves the adapters/services."""

    KIND: ClassVar[str] = "task"

    project_id = UnicodeAttribute()
    job_id = UnicodeAttribute()
    task_id = UnicodeAttribute()
    file_id = UnicodeAttribute()
    task_kind = UnicodeAttribute()  # annotate | review (``kind`` is the item type, as on every item)
    slot = NumberAttribute(default=0)
    round = NumberAttribute(default=0)
    frame_start = NumberAttribute(null=True)  # a video segment task's frames
    frame_end = NumberAttribute(null=True)
    status = UnicodeAttribute()
    distinct_annotators = BooleanAttribute(default=False)
    assignee = UnicodeAttribute(null=True)
    reserved_for = UnicodeAttribute(null=True)
    excluded = JSONAttribute(default=list)
    authors = JSONAttribute(default=list)
    comment = UnicodeAttribute(null=True)
    task_token = UnicodeAttribute(null=True)
    claim_seq = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    claimed_at = UTCDateTimeAttribute(null=True)
    lease_expires_at = UTCDateTimeAttribute(null=True)
    submitted_at = UTCDateTimeAttribute(null=True)
    submission = JSONAttribute(null=True)  # an annotate task's instance list (consensus slots keep theirs here)
    result = JSONAttribute(null=True)  # what was decided: annotation version, review decision and comment
    GSI2PK = UnicodeAttribute(null=True)
    GSI2SK = UnicodeAttribute(null=True)
    queue = Gsi2()


class JobFileItem(Item):
    """A file's progress through one job (one workflow execution per file and job)."""

    KIND: ClassVar[str] = "job_file"

    project_id = UnicodeAttribute()
    job_id = UnicodeAttribute()
    file_id = UnicodeAttribute()
    status = UnicodeAttribute()  # annotating | reviewing | complete | failed
    execution_arn = UnicodeAttribute(null=True)
    agreement = NumberAttribute(null=True)
    per_annotator = JSONAttribute(null=True)  # consensus: how much each annotator agreed with the result
    failure = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    completed_at = UTCDateTimeAttribute(null=True)


class AnnotatorMarkItem(Item):
    """Marks that a person holds a consensus slot of a file in a job: one slot per person per file."""

    KIND: ClassVar[str] = "annotator_mark"

    task_id = UnicodeAttribute()


class WebhookItem(Item):
    KIND: ClassVar[str] = "webhook"

    project_id = UnicodeAttribute()
    webhook_id = UnicodeAttribute()
    url = UnicodeAttribute()
    events = JSONAttribute()
    description = UnicodeAttribute(default="")
    secret_ref = UnicodeAttribute()  # where the signing secret is kept (Secrets Manager ARN), never the secret
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class WebhookFailureItem(Item):
    """A delivery that kept failing (the webhook dead-letter list), with what the receiver last said."""

    KIND: ClassVar[str] = "webhook_failure"

    project_id = UnicodeAttribute()
    webhook_id = UnicodeAttribute()
    delivery_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    event = JSONAttribute()
    attempts = NumberAttribute()
    last_error = UnicodeAttribute()
    failed_at = UTCDateTimeAttribute()
    ttl = NumberAttribute(null=True)


class ArrivalItem(Item):
    """What the drop-folder paths of one stem (``folder/name`` without extension) became.

    ``file_id`` is the ready file a sidecar ``name.json`` arriving after its image attaches to; ``refused``
    holds the quarantine records of paths under the stem that were refused (``name.txt`` next to ``name.jpg``),
    so a refusal never hides the stem's image from its sidecar, and a refused path that is ingested later
    retires its refusal. ``sidecar_waiting``: a sidecar came while the stem had no ready file (its image's
    ingest then looks for it once more). ``etag``: the S3 ETag of the image that became ``file_id``, which
    tells a new image of the stem waiting in the drop folder from that one."""

    KIND: ClassVar[str] = "arrival"

    project_id = UnicodeAttribute()
    file_id = UnicodeAttribute(null=True)
    etag = UnicodeAttribute(null=True)
    refused = UnicodeSetAttribute(null=True)
    sidecar_waiting = BooleanAttribute(null=True)


class QueryIndexItem(Item):
    """The manifest of a dataset's columnar query index; ``version`` makes a compaction's swap conditional."""

    KIND: ClassVar[str] = "query_index"

    project_id = UnicodeAttribute()
    dataset_id = UnicodeAttribute()
    base_key = UnicodeAttribute()
    folded_keys = JSONAttribute(default=list)
    retired_keys = JSONAttribute(default=list)
    built_at = UTCDateTimeAttribute()
    compacted_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class SnapshotItem(_IndexedItem):
    """A named snapshot: where its manifest is (by digest) and what it holds. Written ``ready`` and never updated
    again, or ``pending`` while the snapshot state machine builds it (then in GSI1 only once ready)."""

    KIND: ClassVar[str] = "snapshot"

    project_id = UnicodeAttribute()
    name = UnicodeAttribute()
    digest = UnicodeAttribute()
    dataset_name = UnicodeAttribute()
    # not ``query`` / ``count``: those are pynamodb's class methods
    query_text = UnicodeAttribute(attr_name="query", null=True)
    schema_version = NumberAttribute()
    file_count = NumberAttribute(attr_name="count")
    label_histogram = JSONAttribute(default=dict)
    manifest_bytes = NumberAttribute()
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    status = UnicodeAttribute(null=True)  # pending | ready | failed; absent: ready (written before builds)
    status_reason = UnicodeAttribute(null=True)
    build_id = UnicodeAttribute(null=True)
    chunks_total = NumberAttribute(null=True)
    chunk_files = NumberAttribute(null=True)


class ModelItem(Item):
    """A registered model: its name, newest version and the run its name means in queries."""

    KIND: ClassVar[str] = "model"

    project_id = UnicodeAttribute()
    name = UnicodeAttribute()
    latest_version = NumberAttribute(default=0)
    latest_run = UnicodeAttribute(null=True)  # the newest run that finished: what predictions.<model> reads
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class ExportItem(Item):
    """An export of a snapshot in one format: its progress and where its output is once assembled."""

    KIND: ClassVar[str] = "export"

    project_id = UnicodeAttribute()
    export_id = UnicodeAttribute()
    snapshot_name = UnicodeAttribute()
    snapshot_digest = UnicodeAttribute()
    format = UnicodeAttribute()
    options = JSONAttribute(default=dict)
    status = UnicodeAttribute()  # queued | running | completed | failed | cancelled
    status_reason = UnicodeAttribute(null=True)
    pages_total = NumberAttribute(default=0)
    execution_arn = UnicodeAttribute(null=True)  # the latest attempt's (to stop it)
    size_bytes = NumberAttribute(null=True)
    sha256 = UnicodeAttribute(null=True)
    attempt = NumberAttribute(default=0)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)


class ModelVersionItem(Item):
    """One version of a model: what it declares, its classes' project labels and whether its file checked out."""

    KIND: ClassVar[str] = "model_version"

    project_id = UnicodeAttribute()
    name = UnicodeAttribute()
    version = NumberAttribute()
    spec = JSONAttribute()
    class_labels = JSONAttribute()
    status = UnicodeAttribute()  # awaiting_upload | ready | rejected
    status_reason = UnicodeAttribute(null=True)
    object_key = UnicodeAttribute()
    signature = JSONAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class PredictionRunItem(Item):
    """A prediction run over a frozen slice: progress counters (updated atomically) and outcome."""

    KIND: ClassVar[str] = "prediction_run"

    project_id = UnicodeAttribute()
    run_id = UnicodeAttribute()
    model_name = UnicodeAttribute()
    model_version = NumberAttribute()
    dataset_name = UnicodeAttribute()
    query_text = UnicodeAttribute(attr_name="query", null=True)  # Model.query is the query method
    threshold = NumberAttribute()
    slice_id = UnicodeAttribute()
    status = UnicodeAttribute()
    status_reason = UnicodeAttribute(null=True)
    total = NumberAttribute(default=0)
    done = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    execution_arn = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)


class PredictionItem(Item):
    """One file's outcome in a run, written once: its predicted instances and their summary, or why it failed."""

    KIND: ClassVar[str] = "prediction"

    project_id = UnicodeAttribute()
    run_id = UnicodeAttribute()
    file_id = UnicodeAttribute()
    outcome = UnicodeAttribute()  # "done" | "failed" | "waiting"
    instances = JSONAttribute(default=list)
    summary = JSONAttribute(default=dict)
    probabilities = JSONAttribute(null=True)  # a classifier's class distribution (active learning)
    reason = UnicodeAttribute(null=True)
    predicted_at = UTCDateTimeAttribute()


MODELS: tuple[type[Item], ...] = (
    ProjectItem,
    MemberItem,
    ApiKeyItem,
    DatasetItem,
    SchemaItem,
    FileItem,
    DatasetMemberItem,
    DatasetCountItem,
    AnnotationVersionItem,
    UploadItem,
    ImportJobItem,
    ImportOutcomeItem,
    ArrivalItem,
    JobItem,
    TaskItem,
    JobFileItem,
    AnnotatorMarkItem,
    WebhookItem,
    WebhookFailureItem,
    QueryIndexItem,
    SnapshotItem,
    ExportItem,
    ModelItem,
    ModelVersionItem,
    PredictionRunItem,
    PredictionItem,
)
