"""Each dataset's columnar query index: kept current from the table's change stream, compacted, read by queries.

The index of a dataset is Parquet in the media bucket (``storage.index_*``): a base file and the delta files
written since, one row per file (``domain/query/index_rows.py``). Its manifest (``adapters/dynamo/
query_indexes.py``) names the base and the deltas already folded into it.

- ``apply_changes`` runs on every batch of the stream (keys only). It does not trust the order or the
  content of records: for each file it reads the file and its memberships *now* (strong batch reads) and writes
  what it read, stamped with the batch's newest sequence number. So a file's newest delta row always
  reflects a state at least as new as its last change, whatever order batches land in, and a replayed batch
  writes the same rows again (idempotent).
- ``build`` reads a dataset whole from the table into a base (its rows stamped lowest, so any delta wins) when
  a dataset has no index yet; ``compact`` folds the deltas into a new base with DuckDB (no table reads). Both
  swap the manifest with a conditional write, so two compactions never both win; the files a swap replaces
  are deleted by the next one, so a reader holding the previous manifest still finds them.
- ``open_index`` gives a query the base plus every delta not folded (downloaded once per warm container, and
  kept open in DuckDB while the list of files stays the same).
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from annolake_service.adapters import storage
from annolake_service.adapters.athena_index import AthenaIndex, AthenaTarget
from annolake_service.adapters.columnar_index import ColumnarIndex, write_index_file
from annolake_service.adapters.dynamo import datasets as dataset_repo
from annolake_service.adapters.dynamo import files as file_repo
from annolake_service.adapters.dynamo import keys
from annolake_service.adapters.dynamo import projects as project_repo
from annolake_service.adapters.dynamo import query_indexes as manifest_repo
from annolake_service.adapters.dynamo.files import Listing
from annolake_service.domain.entities import FileRecord, IndexManifest
from annolake_service.domain.query import FileView, Node, evaluation_refs
from annolake_service.domain.query.index_rows import index_row, seq_text, tombstone
from annolake_service.domain.query.sql import athena_supports, indexed, referenced_columns
from annolake_service.services import models as model_service
from annolake_service.services import schema as schema_service
from annolake_service.shared.observability import logger
from annolake_service.shared.settings import get_settings

CACHE_DIR = Path(tempfile.gettempdir()) / "annolake-index"
_BATCH = 100
PARQUET = "application/vnd.apache.parquet"


@dataclass(frozen=True)
class Change:
    """A stream record's meaning: a file (and, for a membership, the dataset and position) changed."""

    project_id: str
    file_id: str
    seq: str
    dataset_id: str | None = None
    position: str | None = None
    created: bool = False  # the file's item is new: it is in no dataset but those its memberships' changes name


def change_of(keys_image: dict[str, Any], sequence_number: str, event_name: str = "MODIFY") -> Change | None:
    """The change a stream record's keys (DynamoDB JSON) stand for, or None for items no index holds."""
    pk, sk = keys_image.get("PK", {}).get("S", ""), keys_image.get("SK", {}).get("S", "")
    seq = seq_text(sequence_number)
    if sk == keys.FILE_SK and (file := keys.parse_file_pk(pk)) is not None:
        return Change(project_id=file[0], file_id=file[1], seq=seq, created=event_name == "INSERT")
    if (shard := keys.parse_shard_pk(pk)) is not None and "#" in sk:
        return Change(project_id=shard[0], file_id=sk.rsplit("#", 1)[-1], seq=seq, dataset_id=shard[1], position=sk)
    return None


EngineChoice = Literal["auto", "embedded", "athena"]
"""What a request asks for: ``auto`` (Athena for an index past ``ATHENA_MIN_INDEX_BYTES``), or one engine."""


@dataclass(frozen=True)
class IndexedView:
    """An opened index and what a response says about it."""

    index: ColumnarIndex | AthenaIndex
    manifest: IndexManifest
    deltas: int
    note: str | None = None

    def describe(self) -> dict[str, Any]:
        runner = "athena" if isinstance(self.index, AthenaIndex) else "duckdb"
        described = {"name": "index", "compacted_at": self.manifest.compacted_at, "deltas": self.deltas}
        return {**described, "runner": runner, **({"note": self.note} if self.note else {})}


TABLE_ENGINE = {"name": "table", "compacted_at": None, "deltas": 0}


# --- writing --------------------------------------------------------------------------------------------------


def _dataset_names(project_id: str) -> dict[str, str]:
    return {d.dataset_id: d.name for d in dataset_repo.list_datasets(project_id)}


def _label_names(project_id: str) -> tuple[str, ...]:
    schema, _ = schema_service.get_schema(project_id)
    return tuple(label.name for label in schema.labels)


def _view(record: FileRecord, datasets: Iterable[str], names: dict[str, str]) -> FileView:
    ids = sorted(datasets)
    return FileView.from_record(record, [names.get(i, "") for i in ids], ids)


def apply_changes(changes: Iterable[Change]) -> list[tuple[str, str]]:
    """Write one delta file per dataset the changes touch; returns those (project, dataset) pairs."""
    by_file: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for change in changes:
        by_file[(change.project_id, change.file_id)].append(change)
    rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    newest: dict[tuple[str, str], str] = {}
    projects: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {}
    read = _strong_reads(by_file)
    for (project_id, file_id), file_changes in by_file.items():
        if project_id not in projects:
            projects[project_id] = (_dataset_names(project_id), _label_names(project_id))
        names, labels = projects[project_id]
        seq = max(c.seq for c in file_changes)
        found, live_places = read[project_id][0].get(file_id), read[project_id][1]
        record = found[0] if found else None
        # A file created since the stream's last batch has only memberships written since, each a change of this
        # batch or of a later one (which reads them all): at ingest, a query per file saved. A file whose item
        # names every dataset listing it has its memberships read with the batch's; others take a query.
        if any(c.created for c in file_changes):
            listed = {}
        elif found is not None and found[1].complete:
            named = found[1].positions(file_id).items()
            listed = {dataset_id: place for dataset_id, place in named if (dataset_id, place) in live_places}
        else:
            listed = dataset_repo.memberships_of_file(project_id, file_id)
        for change in file_changes:  # the index on memberships may lag: the changed ones are read strongly
            if change.dataset_id is None or change.position is None:
                continue
            if (change.dataset_id, change.position) in live_places:
                listed[change.dataset_id] = change.position
            else:
                listed.pop(change.dataset_id, None)
        touched = set(listed) | {c.dataset_id for c in file_changes if c.dataset_id}
        live = record is not None and record.deleted_at is None
        for dataset_id in touched:
            target = (project_id, dataset_id)
            newest[target] = max(seq, newest.get(target, ""))
            if live and dataset_id in listed:
                assert record is not None
                view = _view(record, listed, names)
                rows[target].append(index_row(file_id, view, position=listed[dataset_id], seq=seq, labels=labels))
            else:
                rows[target].append(tombstone(file_id, seq=seq))
    bucket = get_settings().media_bucket
    for (project_id, dataset_id), dataset_rows in rows.items():
        key = storage.index_delta_key(project_id, dataset_id, newest[(project_id, dataset_id)], secrets.token_hex(6))
        _upload_rows(bucket, key, dataset_rows)
    return sorted(rows)


def _strong_reads(
    by_file: dict[tuple[str, str], list[Change]],
) -> dict[str, tuple[dict[str, tuple[FileRecord, Listing]], set[tuple[str, str]]]]:
    """Per project: the changed files as they are now (with the datasets their items name), and which of the
    changed memberships and of those named are live, each read strongly in batches (a batch's reads cost a few
    calls, not two per file)."""
    files: dict[str, list[str]] = defaultdict(list)
    for project_id, file_id in by_file:
        files[project_id].append(file_id)
    read = {}
    for project_id, file_ids in files.items():
        listed = file_repo.get_listed_files(project_id, file_ids, consistent=True)
        places = {
            (c.dataset_id, c.position)
            for file_id in file_ids
            for c in by_file[(project_id, file_id)]
            if c.dataset_id and c.position
        }
        for file_id, (_, listing) in listed.items():
            if listing.complete:
                places |= set(listing.positions(file_id).items())
        read[project_id] = (listed, dataset_repo.live_memberships(project_id, places))
    return read


def _upload_rows(bucket: str, key: str, rows: Iterable[dict[str, Any]]) -> int:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "rows.parquet"
        count = write_index_file(rows, path)
        storage.upload_file(bucket, key, path, PARQUET)
    return count


def _delta_keys(
    project_id: str, dataset_id: str, manifest: IndexManifest | None, found: Iterable[str] | None = None
) -> list[str]:
    skip = set(manifest.folded_keys) | set(manifest.retired_keys) if manifest else set()
    if found is None:
        found = storage.list_keys(get_settings().media_bucket, storage.index_prefix(project_id, dataset_id))
    return sorted(k for k in found if storage.is_index_delta(k) and k not in skip)


def _members(project_id: str, dataset_id: str) -> Iterator[tuple[str, str]]:
    return dataset_repo.iter_dataset_members(project_id, dataset_id, after=None, dynamo_filter=None)


def build(project_id: str, dataset_id: str) -> IndexManifest | None:
    """Read the dataset whole into a new base (when it has no index yet); None if another build won."""
    started = datetime.now(UTC)
    folded = _delta_keys(project_id, dataset_id, None)  # listed before the reads: their changes are in them
    names, labels = _dataset_names(project_id), _label_names(project_id)
    datasets_of: dict[str, list[str]] = defaultdict(list)
    for other in names:
        for _, file_id in _members(project_id, other):
            datasets_of[file_id].append(other)

    def rows() -> Iterator[dict[str, Any]]:
        members = _members(project_id, dataset_id)
        while batch := list(islice(members, _BATCH)):
            records = file_repo.get_files(project_id, [file_id for _, file_id in batch])
            for position, file_id in batch:
                record = records.get(file_id)
                if record is not None and record.deleted_at is None:
                    view = _view(record, datasets_of.get(file_id, [dataset_id]), names)
                    yield index_row(file_id, view, position=position, seq=None, labels=labels)

    bucket = get_settings().media_bucket
    base_key = storage.index_base_key(project_id, dataset_id, secrets.token_hex(8))
    count = _upload_rows(bucket, base_key, rows())
    manifest = IndexManifest(
        project_id=project_id,
        dataset_id=dataset_id,
        base_key=base_key,
        folded_keys=folded,
        built_at=started,
        compacted_at=started,
    )
    if not manifest_repo.save_manifest(manifest):
        storage.delete_object(bucket, base_key)
        return None
    logger.info("query index built", extra={"project": project_id, "dataset": dataset_id, "files": count})
    return manifest


def compact(project_id: str, dataset_id: str, *, build_missing: bool = True) -> IndexManifest | None:
    """Fold the deltas into a new base (building the index first if it has none, unless ``build_missing`` is
    off); None if nothing changed."""
    manifest = manifest_repo.get_manifest(project_id, dataset_id)
    if manifest is None:
        return build(project_id, dataset_id) if build_missing else None
    deltas = _delta_keys(project_id, dataset_id, manifest)
    if not deltas:
        return None
    bucket = get_settings().media_bucket
    paths = [_cached(bucket, key) for key in [manifest.base_key, *deltas]]
    base_key = storage.index_base_key(project_id, dataset_id, secrets.token_hex(8))
    with tempfile.TemporaryDirectory() as work, ColumnarIndex(paths) as index:
        path = Path(work) / "base.parquet"
        index.compact(path)
        storage.upload_file(bucket, base_key, path, PARQUET)
    replaced = manifest.model_copy(
        update={
            "base_key": base_key,
            "folded_keys": deltas,
            "retired_keys": [manifest.base_key, *manifest.folded_keys],
            "compacted_at": datetime.now(UTC),
        }
    )
    if not manifest_repo.save_manifest(replaced):
        storage.delete_object(bucket, base_key)
        return None
    for key in manifest.retired_keys:  # replaced one compaction ago: no reader holds them any more
        storage.delete_object(bucket, key)
    return replaced


# Per index: batches this container wrote since it last listed the index's deltas (``maintain``), modulo
# ``look_every``.
_unlooked: dict[tuple[str, str], int] = defaultdict(int)
_unlooked_lock = threading.Lock()


def look_every(limit: int) -> int:
    """How many of its batches for an index an updater container lets pass between listings of its deltas."""
    return max(1, limit // 4)


def maintain(targets: Iterable[tuple[str, str]]) -> None:
    """After deltas were written: build indexes that do not exist yet, compact those with many deltas.

    Counting the deltas takes an S3 listing of the index's files (folded ones included), which cost more than
    the batch's own writes when a batch carries one or two saves. So a container lists an index at its first
    batch for it and then at every ``look_every(limit)``-th: an index is compacted at most that many batches
    per container past the limit (the scheduled compaction folds whatever an idle index has left)."""
    limit = get_settings().index_compact_after
    every = look_every(limit)
    for project_id, dataset_id in targets:
        manifest = manifest_repo.get_manifest(project_id, dataset_id)
        if manifest is None:
            compact(project_id, dataset_id)
            continue
        with _unlooked_lock:
            passed = _unlooked[(project_id, dataset_id)]
            _unlooked[(project_id, dataset_id)] = (passed + 1) % every
        if passed == 0 and len(_delta_keys(project_id, dataset_id, manifest)) >= limit:
            compact(project_id, dataset_id)


def compact_all() -> list[tuple[str, str]]:
    """The scheduled compaction: fold the deltas of every index that has some; returns those compacted.

    Finds the indexes by key queries (the projects on GSI1, then each project's ``INDEX#`` manifests) and
    their deltas by one S3 listing each, so a run over idle indexes reads no table data and writes nothing.
    An index dropped meanwhile is not built again here (its dataset's next change builds it). One failing
    index does not stop the others; the run raises at the end, so the failure is counted and alarmed.
    """
    compacted, failed = [], []
    for project_id in project_repo.project_ids():
        for dataset_id in manifest_repo.indexed_datasets(project_id):
            try:
                if compact(project_id, dataset_id, build_missing=False) is not None:
                    compacted.append((project_id, dataset_id))
            except Exception:
                logger.exception("query index compaction failed", extra={"project": project_id, "dataset": dataset_id})
                failed.append((project_id, dataset_id))
    logger.info("query indexes compacted", extra={"compacted": len(compacted), "failed": len(failed)})
    if failed:
        raise RuntimeError(f"compacting {len(failed)} query indexes failed (see the log): {failed[:10]}")
    return compacted


def drop(project_id: str, dataset_id: str) -> None:
    """Forget a dataset's index (its files are deleted); the next change or compaction builds a new one."""
    bucket = get_settings().media_bucket
    for key in storage.list_keys(bucket, storage.index_prefix(project_id, dataset_id)):
        storage.delete_object(bucket, key)
    manifest_repo.delete_manifest(project_id, dataset_id)


# --- reading --------------------------------------------------------------------------------------------------


def _cached(bucket: str, key: str) -> Path:
    """A local copy of an index file; index files are never rewritten, so a copy by key stays right."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".parquet")
    if not path.exists():
        storage.download_file(bucket, key, path)
    return path


_OPENED: OrderedDict[tuple[Path, ...], ColumnarIndex] = OrderedDict()
_OPENED_LOCK = threading.Lock()
_KEEP_OPENED = 8


def _opened(paths: list[Path]) -> ColumnarIndex:
    """A reader of these index files, from the index this worker keeps open for them: a request then costs a
    cursor, not a DuckDB database and a read of every file's schema (a compaction or delta is a new file
    list, so the old one simply ages out; the ``_KEEP_OPENED`` most recent lists are kept)."""
    key = tuple(paths)
    with _OPENED_LOCK:
        shared = _OPENED.get(key)
        if shared is not None:
            _OPENED.move_to_end(key)
            return shared.reader()
    opened = ColumnarIndex(paths)
    with _OPENED_LOCK:
        shared = _OPENED.setdefault(key, opened)
        if shared is not opened:  # another request opened the same files meanwhile
            opened.close()
        _OPENED.move_to_end(key)
        while len(_OPENED) > _KEEP_OPENED:
            _OPENED.popitem(last=False)  # its readers in flight keep its database alive until they close
        return shared.reader()


def forget_opened() -> None:
    """Let go of the indexes this worker keeps open, as a new container starts without them."""
    with _OPENED_LOCK:
        _OPENED.clear()


def choose_runner(engine: EngineChoice, index_bytes: int, query: Node | None) -> tuple[str, str | None]:
    """``("athena" | "duckdb", note)``: Athena when asked, or on ``auto`` for an index of at least
    ``ATHENA_MIN_INDEX_BYTES``; the embedded engine where Athena cannot answer (stage local, no workgroup, a query
    it does not read), with a note saying why when Athena was asked for."""
    settings = get_settings()
    if engine == "embedded" or (engine == "auto" and index_bytes < settings.athena_min_index_bytes):
        return "duckdb", None
    if settings.stage == "local" or not settings.athena_workgroup:
        refusal = "Athena is not used locally (stage local)"
    elif not athena_supports(query):
        refusal = "Athena does not read eval.* fields or metadata keys holding a double quote or backslash"
    else:
        return "athena", None
    return "duckdb", f"{refusal}; the embedded engine (DuckDB) answered the same SQL" if engine == "athena" else None


def _athena_index(project_id: str, dataset_id: str, keys: list[str], query: Node | None) -> AthenaIndex:
    settings = get_settings()
    target = AthenaTarget(settings.athena_database, settings.athena_table, settings.athena_workgroup)
    return AthenaIndex(
        target,
        bucket=settings.media_bucket,
        project_id=project_id,
        dataset_id=dataset_id,
        keys=keys,
        labels=_label_names(project_id),
        query_columns=referenced_columns(query),
    )


def open_index(
    project_id: str, dataset_id: str, query: Node | None = None, *, engine: EngineChoice = "auto"
) -> IndexedView | None:
    """The dataset's index for ``query``, or None: while the dataset has none, when the query names fields the
    index does not hold (predictions), or when the settings say not to use it. The evaluations a query's
    ``eval.<run>`` fields name are attached beside the index.

    Athena answers when asked (``engine``) or, on ``auto``, when the index's files add up to
    ``ATHENA_MIN_INDEX_BYTES``; where it cannot (locally, or a query it does not read), the embedded engine
    answers and the view's note says why."""
    settings = get_settings()
    if settings.query_engine == "table" or not indexed(query):
        return None
    for _ in range(3):  # a compaction may retire a file between reading the manifest and fetching it
        manifest = manifest_repo.get_manifest(project_id, dataset_id)
        if manifest is None:
            return None
        bucket = settings.media_bucket
        sizes = storage.list_sizes(bucket, storage.index_prefix(project_id, dataset_id))
        deltas = _delta_keys(project_id, dataset_id, manifest, sizes)
        keys = [manifest.base_key, *deltas]
        runner, note = choose_runner(engine, sum(sizes.get(key, 0) for key in keys), query)
        if runner == "athena":
            return IndexedView(_athena_index(project_id, dataset_id, keys, query), manifest, len(deltas))
        try:
            paths = [_cached(bucket, key) for key in keys]
        except storage.ObjectMissing:
            continue
        index = _opened(paths)
        refs = evaluation_refs(query)
        if refs:
            index.attach_evaluations(model_service.evaluations_for_query(project_id, refs))
        return IndexedView(index, manifest, len(deltas), note)
    return None
