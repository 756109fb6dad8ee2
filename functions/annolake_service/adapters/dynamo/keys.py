"""Every key of the single table, built only here. Every key holds the project (tenant isolation): ``<p>``.

| kind               | PK                      | SK                   | GSI1PK / GSI1SK                          |
|--------------------|-------------------------|----------------------|------------------------------------------|
| project            | P#<p>                   | PROJECT              | PROJECTS / <p>                           |
| member             | P#<p>                   | MEMBER#<who>         | PRINCIPAL#<who> / P#<p>                  |
| api_key            | KEY#<client>            | KEY                  | P#<p>#KEYS / <created>                   |
| dataset            | P#<p>                   | DATASET#<name>       |                                          |
| schema             | P#<p>                   | SCHEMA               |                                          |
| upload             | P#<p>                   | UPLOAD#<upload>      |                                          |
| file               | P#<p>#F#<file>          | FILE                 |                                          |
| annotation_version | P#<p>#F#<file>          | ANN#v<version>       |                                          |
| dataset_member     | P#<p>#D#<dataset>#S<n>  | <created>#<file>     | P#<p>#F#<file> / D#<dataset>             |
| dataset_count      | P#<p>#D#<dataset>#COUNT | S<n>                 |                                          |
| import             | P#<p>                   | IMPORT#<import>      |                                          |
| import_outcome     | P#<p>#IMPORT#<import>   | ITEM#<index>         |                                          |
| arrival            | P#<p>#ARRIVAL           | <dataset>/<stem>     |                                          |
| job                | P#<p>                   | JOB#<job>            |                                          |
| task               | P#<p>#J#<job>           | T#<task>             | P#<p>#A#<who> / open#<job>#<kind>#<task> |
| job_file           | P#<p>#J#<job>           | F#<file>             |                                          |
| annotator_mark     | P#<p>#J#<job>           | M#<file>#<who>       |                                          |
| webhook            | P#<p>                   | WEBHOOK#<webhook>    |                                          |
| webhook_failure    | P#<p>#WEBHOOK#<webhook> | FAIL#<at>#<delivery> |                                          |
| query_index        | P#<p>                   | INDEX#<dataset>      |                                          |
| snapshot           | P#<p>                   | SNAPSHOT#<name>      | P#<p>#SNAPSHOTS / <digest>#<name>        |
| export             | P#<p>                   | EXPORT#<export>      |                                          |
| model              | P#<p>                   | MODEL#<model>        |                                          |
| model_version      | P#<p>#MODEL#<model>     | V#<version>          |                                          |
| prediction_run     | P#<p>                   | RUN#<run>            |                                          |
| prediction         | P#<p>#RUN#<run>         | F#<file>             |                                          |

A task also has a GSI2 key while it is open, its job's queue for its kind:

| kind | GSI2PK                 | GSI2SK      |
|------|------------------------|-------------|
| task | P#<p>#J#<job>#Q#<kind> | <at>#<task> |

Notes on the table
- ``<version>`` and ``<index>`` are zero-padded to 8 digits, ``<n>`` is ``crc32(file id) % DATASET_SHARDS``,
  ``<created>`` is the ISO time, ``<at>`` a fixed-width UTC ``stamp``.
- A task's GSI1 (who holds it) is set while someone holds or is reserved it; once finished its GSI1SK becomes
  ``done#<job>#<kind>#<task>``. Its GSI2 sorts the open tasks by when they become claimable (at creation, and
  again when a claim's lease or a reservation ends).
- An ``import_outcome`` item under ``WAIT#<index>`` instead of ``ITEM#<index>`` marks a video the import handed
  to the video ingest and waits on: the ingest's result replaces it with the item's outcome in one transaction.
- ``query_index`` is the manifest of a dataset's columnar query index (its base file in the media bucket and
  the delta files folded into it), replaced by a conditional write on its version.
- A ``prediction`` is one file's outcome in a prediction run (its instances, or why it failed), written once per
  run and file; predictions are never annotation versions.
- ``annotator_mark`` records that a person holds a consensus slot of a file in a job (one slot per person).

Access patterns
- project settings, members, datasets, schema, uploads, imports, jobs, webhooks, models, prediction runs: a query
  or get on ``P#<p>``; a model's versions: a query on ``P#<p>#MODEL#<model>``.
- a run's predictions: a query on ``P#<p>#RUN#<run>``; some files' predictions in a run: one batch get.
- projects of a user: GSI1 ``PRINCIPAL#user:<name>``; a project's API keys: GSI1 ``P#<p>#KEYS``.
- an API key by ``client_id``: one get (every API-key request).
- a dataset's files, newest first: a key query on each of ``DATASET_SHARDS`` partitions, merged by sort key
  (``<created>#<file>``); the cursor holds the last sort key. Sharding by a hash of the file id spreads a bulk
  import's writes; a dataset listing is never a scan. The membership carries a copy of the file's summary
  (status, name, size, label counts, attribute values), so slice queries filter there.
- how many live files a dataset has: one strongly consistent key query on ``P#<p>#D#<dataset>#COUNT``, its
  ``DATASET_SHARDS`` counters (``dataset_count``, one per membership shard so a bulk import's transactions spread
  over them). Every write that makes a membership live or not live moves its shard's counter in the same
  transaction, conditional on the membership's prior state, so a retried write never counts twice.
- a file's datasets: GSI1 ``P#<p>#F#<file>``; its annotation history: query ``ANN#`` on its PK.
- a page of files with their current annotations (stream pages): one batch get of the file items, which carry
  their current instances when small (written in the same transaction as the version); only files with larger
  annotations need a second batch get of their version items.
- ``next`` task: the caller's open tasks (GSI1 ``P#<p>#A#<who>``, ``open#``), then the job's queue (GSI2,
  sort key up to now). A claim is a conditional write on the task's ``claim_seq``.
- every query index (the scheduled compaction): GSI1 ``PROJECTS`` for the project ids, then a key query
  ``begins_with INDEX#`` on each ``P#<p>``; then one S3 listing per index finds its deltas. A run costs one
  query per project plus one per 1 MB of manifests, and one LIST per index, whether or not anything changed;
  no scan and no extra GSI (a sparse "has deltas" key would need a write per stream batch to keep up).
- a snapshot by name: one get; by digest (or a prefix of it): GSI1 ``P#<p>#SNAPSHOTS`` ``begins_with`` the digest.
  Its manifest is an S3 object named by the digest, so names of the same content share one manifest.
- an export: one get; its id is derived from the snapshot digest, format and options, so asking for the same
  export again finds the first.
- a job's tasks, files and stats: one key query on ``P#<p>#J#<job>``; a reviewer's load: count of GSI1
  ``open#<job>#review#``.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

DATASET_SHARDS = 8

PROJECT_SK = "PROJECT"
PROJECTS_INDEX_PK = "PROJECTS"
API_KEY_SK = "KEY"
SCHEMA_SK = "SCHEMA"
FILE_SK = "FILE"

MEMBER_PREFIX = "MEMBER#"
DATASET_PREFIX = "DATASET#"
UPLOAD_PREFIX = "UPLOAD#"
IMPORT_PREFIX = "IMPORT#"
JOB_PREFIX = "JOB#"
WEBHOOK_PREFIX = "WEBHOOK#"
QUERY_INDEX_PREFIX = "INDEX#"
SNAPSHOT_PREFIX = "SNAPSHOT#"
EXPORT_PREFIX = "EXPORT#"
VERSION_PREFIX = "ANN#"
DATASET_INDEX_PREFIX = "D#"
TASK_PREFIX = "T#"
JOB_FILE_PREFIX = "F#"
FAILURE_PREFIX = "FAIL#"
OPEN_PREFIX = "open#"


def stamp(moment: datetime) -> str:
    """A sortable UTC timestamp with a fixed width (sort keys compare as strings)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- projects, members, API keys ------------------------------------------------------------


def project_pk(project_id: str) -> str:
    return f"P#{project_id}"


def member_sk(principal_id: str) -> str:
    return f"{MEMBER_PREFIX}{principal_id}"


def principal_index_pk(principal_id: str) -> str:
    return f"PRINCIPAL#{principal_id}"


def api_key_pk(client_id: str) -> str:
    return f"KEY#{client_id}"


def project_keys_index_pk(project_id: str) -> str:
    return f"P#{project_id}#KEYS"


# --- datasets, uploads, imports, arrivals ------------------------------------------------------


def dataset_sk(name: str) -> str:
    return f"{DATASET_PREFIX}{name}"


def upload_sk(upload_id: str) -> str:
    return f"{UPLOAD_PREFIX}{upload_id}"


def import_sk(import_id: str) -> str:
    return f"{IMPORT_PREFIX}{import_id}"


def import_outcomes_pk(project_id: str, import_id: str) -> str:
    return f"P#{project_id}#IMPORT#{import_id}"


IMPORT_OUTCOME_PREFIX = "ITEM#"


def import_outcome_sk(index: int) -> str:
    return f"{IMPORT_OUTCOME_PREFIX}{index:08d}"


IMPORT_WAITING_PREFIX = "WAIT#"


def import_waiting_sk(index: int) -> str:
    """An item handed to the video ingest, until its result is recorded as the item's outcome."""
    return f"{IMPORT_WAITING_PREFIX}{index:08d}"


def arrival_key(project_id: str, dataset_name: str, path_stem: str) -> tuple[str, str]:
    return f"P#{project_id}#ARRIVAL", f"{dataset_name}/{path_stem}"


# --- files, annotation versions, dataset memberships -----------------------------------------------


def file_pk(project_id: str, file_id: str) -> str:
    return f"P#{project_id}#F#{file_id}"


MAX_VERSION = 99_999_999  # the largest version ``version_sk`` orders correctly


def version_sk(version: int) -> str:
    return f"{VERSION_PREFIX}v{version:08d}"


def shard_of(file_id: str) -> int:
    return zlib.crc32(file_id.encode()) % DATASET_SHARDS


def shard_pk(project_id: str, dataset_id: str, shard: int) -> str:
    return f"P#{project_id}#D#{dataset_id}#S{shard}"


def dataset_count_pk(project_id: str, dataset_id: str) -> str:
    return f"P#{project_id}#D#{dataset_id}#COUNT"


def dataset_count_sk(shard: int) -> str:
    return f"S{shard}"


def dataset_member_sk(created_at: datetime, file_id: str) -> str:
    return f"{created_at.isoformat()}#{file_id}"


def listing_position_before(position: str, by: timedelta) -> str:
    """A listing position ``by`` earlier than ``position`` (a membership sort key): every file listed later
    sorts after it."""
    listed_at = datetime.fromisoformat(position.partition("#")[0])
    return dataset_member_sk(listed_at - by, "")


def dataset_index_sk(dataset_id: str) -> str:
    return f"{DATASET_INDEX_PREFIX}{dataset_id}"


def query_index_sk(dataset_id: str) -> str:
    return f"{QUERY_INDEX_PREFIX}{dataset_id}"


def parse_file_pk(pk: str) -> tuple[str, str] | None:
    """(project, file) of a file's partition key, or None for any other partition."""
    head, _, file_id = pk.partition("#F#")
    if not head.startswith("P#") or not file_id or "#" in file_id:
        return None
    return head.removeprefix("P#"), file_id


def parse_shard_pk(pk: str) -> tuple[str, str] | None:
    """(project, dataset) of a dataset membership shard's partition key, or None for any other partition."""
    head, _, rest = pk.partition("#D#")
    dataset_id, _, shard = rest.rpartition("#S")
    if not head.startswith("P#") or not dataset_id or not shard.isdigit():
        return None
    return head.removeprefix("P#"), dataset_id


# --- jobs, tasks, job files ------------------------------------------------------------------------


def job_sk(job_id: str) -> str:
    return f"{JOB_PREFIX}{job_id}"


def job_pk(project_id: str, job_id: str) -> str:
    return f"P#{project_id}#J#{job_id}"


def task_sk(task_id: str) -> str:
    return f"{TASK_PREFIX}{task_id}"


def job_file_sk(file_id: str) -> str:
    return f"{JOB_FILE_PREFIX}{file_id}"


def annotator_mark_sk(file_id: str, principal: str) -> str:
    return f"M#{file_id}#{principal}"


def assignee_index_pk(project_id: str, principal: str) -> str:
    return f"P#{project_id}#A#{principal}"


def open_index_sk(job_id: str, kind: str, task_id: str) -> str:
    return f"{OPEN_PREFIX}{job_id}#{kind}#{task_id}"


def open_load_prefix(job_id: str, kind: str) -> str:
    return f"{OPEN_PREFIX}{job_id}#{kind}#"


def done_index_sk(job_id: str, kind: str, task_id: str) -> str:
    return f"done#{job_id}#{kind}#{task_id}"


def queue_pk(project_id: str, job_id: str, kind: str) -> str:
    return f"P#{project_id}#J#{job_id}#Q#{kind}"


def queue_sk(claimable_at: datetime, task_id: str) -> str:
    return f"{stamp(claimable_at)}#{task_id}"


def queue_upto(now: datetime) -> str:
    """The queue sort key above every task claimable at ``now``."""
    return f"{stamp(now)}#~"


# --- webhooks ----------------------------------------------------------------------------------


def webhook_sk(webhook_id: str) -> str:
    return f"{WEBHOOK_PREFIX}{webhook_id}"


def webhook_failures_pk(project_id: str, webhook_id: str) -> str:
    return f"P#{project_id}#WEBHOOK#{webhook_id}"


def failure_id(failed_at: datetime, delivery_id: str) -> str:
    """A failed delivery's public id: its sort key without the prefix."""
    return f"{stamp(failed_at)}#{delivery_id}"


def failure_sk(failure_id_: str) -> str:
    return f"{FAILURE_PREFIX}{failure_id_}"


# --- snapshots ---------------------------------------------------------------------------------


def snapshot_sk(name: str) -> str:
    return f"{SNAPSHOT_PREFIX}{name}"


def snapshots_index_pk(project_id: str) -> str:
    return f"P#{project_id}#SNAPSHOTS"


def snapshot_index_sk(digest: str, name: str) -> str:
    return f"{digest}#{name}"


def export_sk(export_id: str) -> str:
    return f"{EXPORT_PREFIX}{export_id}"


# --- models and prediction runs ------------------------------------------------------------------

MODEL_PREFIX = "MODEL#"
RUN_PREFIX = "RUN#"


def model_sk(name: str) -> str:
    return f"{MODEL_PREFIX}{name}"


def model_versions_pk(project_id: str, name: str) -> str:
    return f"P#{project_id}#MODEL#{name}"


def model_version_sk(version: int) -> str:
    return f"V#{version:08d}"


def run_sk(run_id: str) -> str:
    return f"{RUN_PREFIX}{run_id}"


def run_pk(project_id: str, run_id: str) -> str:
    return f"P#{project_id}#RUN#{run_id}"


def prediction_sk(file_id: str) -> str:
    return f"F#{file_id}"
