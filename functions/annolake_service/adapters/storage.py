"""S3 access: object bytes, canonical media keys, short-lived presigned URLs.

Media bucket layout (keys are built only here):
  projects/<project>/files/<file id>/original.<ext>   the ingested original
  projects/<project>/files/<file id>/thumb.jpg        256 px JPEG thumbnail (a video's: its poster)
  projects/<project>/files/<file id>/timestamps.json  a video's per-frame presentation timestamps
  projects/<project>/files/<file id>/frames/<chunk>   a video's frames as JPEG, 32 to an object (domain/video/chunks)
  quarantine/<project>/<dataset>/<name>               rejected originals, kept for inspection
  uploads/<project>/<dataset>/<upload id>/<name>      presigned POST target (expires after a day)
  slices/<project>/<slice id>                         a frozen slice: fixed-width file ids (expire after a week)
  index/<project>/<dataset>/base-<token>.parquet       a dataset's columnar query index: its base file
  index/<project>/<dataset>/delta-<seq>-<token>.parquet  and the changes written since (seq: the newest change)
  snapshots/<project>/<digest>/manifest.jsonl         a snapshot's manifest (kept while the project lives)
  snapshots/<project>/<digest>/index                  the same entries, fixed width, for ranged page reads
  snapshots/<project>/builds/<build>/...              a snapshot's build: its sorted file list and chunk parts
  exports/<project>/<export id>/parts/<fragment>/<page>  one page of an export, rendered (kept for re-drives)
  exports/<project>/<export id>/<file name>           the assembled export
  exports/<project>/<export id>/shards/<name>.tar     a packed snapshot's shards (the export's output is their index)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from botocore.utils import percent_encode

from annolake_service.adapters.aws_clients import TransientError, client, credentials
from annolake_service.shared.settings import get_settings


class ObjectMissing(LookupError):
    pass


class ObjectTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def key_prefix(area: str, project_id: str, *names: str) -> str:
    """``<area>/<project>/<name>/…/``: where one kind of a project's objects lies (the layout above)."""
    return "".join(f"{part}/" for part in (area, project_id, *names))


def original_key(project_id: str, file_id: str, extension: str) -> str:
    return f"{file_prefix(project_id, file_id)}original.{extension}"


def thumbnail_key(project_id: str, file_id: str) -> str:
    return f"{file_prefix(project_id, file_id)}thumb.jpg"


def file_prefix(project_id: str, file_id: str) -> str:
    return key_prefix("projects", project_id, "files", file_id)


def timestamps_key(project_id: str, file_id: str) -> str:
    return f"{file_prefix(project_id, file_id)}timestamps.json"


def frames_prefix(project_id: str, file_id: str) -> str:
    return f"{file_prefix(project_id, file_id)}frames/"


def frame_chunk_key(frames_prefix: str, chunk: int) -> str:
    return f"{frames_prefix}{chunk:06d}"


def quarantine_key(project_id: str, dataset_name: str, relative_path: str) -> str:
    return key_prefix("quarantine", project_id, dataset_name) + relative_path


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    content_type: str
    etag: str


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


@contextlib.contextmanager
def _read_errors(bucket: str, key: str) -> Iterator[None]:
    """A read's refusal as the services tell it apart: ObjectMissing, or TransientError (a step retries it)."""
    try:
        yield
    except ClientError as error:
        if _is_missing(error):
            raise ObjectMissing(f"s3://{bucket}/{key} does not exist") from None
        raise TransientError(f"reading s3://{bucket}/{key} failed: {error}") from error


def read_object(bucket: str, key: str, *, max_bytes: int) -> StoredObject:
    """Read an object whole; one larger than ``max_bytes`` is refused before its body is read."""
    with _read_errors(bucket, key):
        response = client("s3").get_object(Bucket=bucket, Key=key)
    size = response.get("ContentLength", 0)
    if size > max_bytes:
        response["Body"].close()
        raise ObjectTooLarge(size)
    return StoredObject(
        body=response["Body"].read(),
        content_type=response.get("ContentType", ""),
        etag=response.get("ETag", "").strip('"'),
    )


def read_object_unless(
    bucket: str, key: str, *, max_bytes: int, head_bytes: int, diverted: Callable[[bytes], bool]
) -> tuple[bytes, StoredObject | None]:
    """``read_object``, except that an object whose first ``head_bytes`` satisfy ``diverted`` is not read further
    nor refused for its size: (its head, None). One request either way."""
    with _read_errors(bucket, key):
        response = client("s3").get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    head = body.read(head_bytes)
    if diverted(head):
        body.close()
        return head, None
    size = response.get("ContentLength", 0)
    if size > max_bytes:
        body.close()
        raise ObjectTooLarge(size)
    whole = head + body.read()
    return head, StoredObject(whole, response.get("ContentType", ""), response.get("ETag", "").strip('"'))


def object_size(bucket: str, key: str) -> int:
    with _read_errors(bucket, key):
        return int(client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"])


def read_optional_json_bytes(bucket: str, key: str, *, max_bytes: int) -> bytes | None:
    try:
        return read_object(bucket, key, max_bytes=max_bytes).body
    except ObjectMissing:
        return None


def write_object(bucket: str, key: str, body: bytes, content_type: str) -> None:
    try:
        client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except ClientError as error:
        raise TransientError(f"writing s3://{bucket}/{key} failed: {error}") from error


def copy_object(source_bucket: str, source_key: str, bucket: str, key: str) -> None:
    try:
        client("s3").copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key})
    except ClientError as error:
        if _is_missing(error):
            raise ObjectMissing(f"s3://{source_bucket}/{source_key} does not exist") from None
        raise TransientError(f"copying s3://{source_bucket}/{source_key} failed: {error}") from error


def delete_object(bucket: str, key: str) -> None:
    try:
        client("s3").delete_object(Bucket=bucket, Key=key)
    except ClientError as error:
        raise TransientError(f"deleting s3://{bucket}/{key} failed: {error}") from error


def delete_objects(bucket: str, keys: list[str]) -> None:
    """Delete many keys of one bucket, a thousand to a call (S3's limit); a key already gone is no failure."""
    s3 = client("s3")
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        try:
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
        except ClientError as error:
            raise TransientError(f"deleting {len(chunk)} objects of s3://{bucket} failed: {error}") from error
        if errors := answer.get("Errors"):
            first = errors[0]
            raise TransientError(
                f"deleting s3://{bucket}/{first.get('Key')} failed: {first.get('Code')} {first.get('Message')}"
                + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
            )


def bucket_answers(bucket: str) -> bool:
    try:
        client("s3").head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


def presigned_get_url(bucket: str, key: str, expires_in: int) -> str:
    return client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )


_REFERENCE_KEY = "reference-key"


def presigned_get_urls(bucket: str, keys: list[str], expires_in: int) -> list[str]:
    """Presigned GETs for many keys of one bucket, as ``generate_presigned_url`` makes them, ~3x cheaper.

    botocore resolves its endpoint rules anew for each URL (the object key is one of the rules' inputs, so
    their cache never hits): half the API's CPU for a page of stream items. Here the bucket's endpoint is
    resolved once, by presigning a reference key, and every key is signed on that base with botocore's
    own SigV4 query signer, its path encoded as botocore encodes it.
    """
    if not keys:
        return []
    reference = presigned_get_url(bucket, _REFERENCE_KEY, expires_in).partition("?")[0]
    base = reference.removesuffix(_REFERENCE_KEY)
    signer = S3SigV4QueryAuth(credentials().get_frozen_credentials(), "s3", get_settings().aws_region, expires_in)
    urls = []
    for key in keys:
        request = AWSRequest(method="GET", url=base + percent_encode(key, safe="/~"))
        signer.add_auth(request)
        urls.append(request.url)  # what prepare() would give: the request has no params to add
    return urls


def upload_key(project_id: str, dataset_name: str, upload_id: str, file_name: str) -> str:
    return key_prefix("uploads", project_id, dataset_name, upload_id) + file_name


def presigned_post(bucket: str, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """A browser/SDK form upload of exactly this key, with size and content-type conditions."""
    return client("s3").generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[
            {"Content-Type": content_type},
            ["content-length-range", 1, max_bytes],
        ],
        ExpiresIn=expires_in,
    )


def import_prefix(project_id: str, import_id: str) -> str:
    return key_prefix("imports", project_id, import_id)


def job_prefix(project_id: str, job_id: str) -> str:
    return key_prefix("jobs", project_id, job_id)


def model_key(project_id: str, model_name: str, version: int) -> str:
    return key_prefix("models", project_id, model_name, f"v{version}") + "model.onnx"


def run_prefix(project_id: str, run_id: str) -> str:
    return key_prefix("runs", project_id, run_id)


def list_keys(bucket: str, prefix: str) -> list[str]:
    return list(list_sizes(bucket, prefix))


def list_sizes(bucket: str, prefix: str) -> dict[str, int]:
    """Every key under ``prefix`` and its size in bytes, in key order."""
    sizes: dict[str, int] = {}
    paginator = client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        sizes.update((obj["Key"], int(obj.get("Size", 0))) for obj in page.get("Contents", []))
    return sizes


def list_etags(bucket: str, prefix: str) -> dict[str, str]:
    """Every key under ``prefix`` and its ETag (without the quotes S3 lists it in, as its events send it)."""
    etags: dict[str, str] = {}
    paginator = client("s3").get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        etags.update((obj["Key"], obj.get("ETag", "").strip('"')) for obj in page.get("Contents", []))
    return etags


def presigned_prefix_post(bucket: str, prefix: str, *, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """One form policy for any key under ``prefix`` (many files, one API call): S3 ``starts-with``."""
    return client("s3").generate_presigned_post(
        Bucket=bucket,
        Key=prefix + "${filename}",
        Conditions=[["starts-with", "$key", prefix], ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires_in,
    )


def index_prefix(project_id: str, dataset_id: str) -> str:
    return key_prefix("index", project_id, dataset_id)


def index_base_key(project_id: str, dataset_id: str, token: str) -> str:
    return f"{index_prefix(project_id, dataset_id)}base-{token}.parquet"


def index_delta_key(project_id: str, dataset_id: str, seq: str, token: str) -> str:
    return f"{index_prefix(project_id, dataset_id)}delta-{seq}-{token}.parquet"


def is_index_delta(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith("delta-")


def download_file(bucket: str, key: str, path: Path) -> None:
    """Copy an object to a local file, written beside it under a name of its own first, then renamed: a reader
    never sees half, and downloads of the same object at once (threads, or API workers sharing a cache
    directory) each rename a whole copy instead of one renaming the other's partial file away."""
    with _read_errors(bucket, key):
        response = client("s3").get_object(Bucket=bucket, Key=key)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    partial = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in response["Body"].iter_chunks(1 << 20):
                out.write(chunk)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def upload_file(bucket: str, key: str, path: Path, content_type: str) -> None:
    try:
        with path.open("rb") as body:
            client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except ClientError as error:
        raise TransientError(f"writing s3://{bucket}/{key} failed: {error}") from error


SLICE_RECORD = 33  # a file id padded to 32 characters, and a newline


def slice_key(project_id: str, slice_id: str) -> str:
    return key_prefix("slices", project_id) + slice_id


def write_slice(bucket: str, key: str, file_ids: list[str], metadata: dict[str, str]) -> None:
    """Store an ordered list of file ids as fixed-width records, so any page is one ranged GET."""
    width = SLICE_RECORD - 1
    if any(len(file_id) > width for file_id in file_ids):
        raise ValueError(f"file ids longer than {width} characters cannot be stored in a slice")
    body = "".join(f"{file_id:<{width}}\n" for file_id in file_ids).encode()
    client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain", Metadata=metadata)


@dataclass(frozen=True)
class SliceRange:
    file_ids: list[str]
    count: int
    metadata: dict[str, str]


def read_slice(bucket: str, key: str, offset: int, limit: int) -> SliceRange:
    """Records ``offset .. offset+limit`` of a stored slice, its total count and metadata (one request)."""
    s3 = client("s3")
    first, last = offset * SLICE_RECORD, (offset + limit) * SLICE_RECORD - 1
    try:
        response = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")
    except ClientError as error:
        if _is_missing(error):
            raise ObjectMissing(f"s3://{bucket}/{key} does not exist") from None
        if error.response.get("Error", {}).get("Code") != "InvalidRange":
            raise
        head = s3.head_object(Bucket=bucket, Key=key)  # past the end, or an empty slice
        return SliceRange([], head["ContentLength"] // SLICE_RECORD, head.get("Metadata", {}))
    total = int(response["ContentRange"].rsplit("/", 1)[1])
    body = response["Body"].read().decode()
    file_ids = [body[i : i + SLICE_RECORD].strip() for i in range(0, len(body), SLICE_RECORD)]
    return SliceRange(file_ids, total // SLICE_RECORD, response.get("Metadata", {}))


def snapshot_manifest_key(project_id: str, digest: str) -> str:
    return key_prefix("snapshots", project_id, digest) + "manifest.jsonl"


def snapshot_index_key(project_id: str, digest: str) -> str:
    return key_prefix("snapshots", project_id, digest) + "index"


def snapshot_build_prefix(project_id: str, build_id: str) -> str:
    """Where a snapshot's build keeps its sorted file list and the chunks' parts until the manifest is written."""
    return key_prefix("snapshots", project_id, "builds", build_id)


def delete_keys(bucket: str, keys: list[str]) -> None:
    """Delete objects, 1000 a request (the most S3 takes)."""
    s3 = client("s3")
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        try:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        except ClientError as error:
            raise TransientError(f"deleting under s3://{bucket}/ failed: {error}") from error


def object_exists(bucket: str, key: str) -> bool:
    try:
        client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _is_missing(error):
            return False
        raise TransientError(f"reading s3://{bucket}/{key} failed: {error}") from error
    return True


def read_range(bucket: str, key: str, first: int, last: int) -> bytes:
    """Bytes ``first ..= last`` of an object (fewer at its end; none past it)."""
    try:
        response = client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")
    except ClientError as error:
        if _is_missing(error):
            raise ObjectMissing(f"s3://{bucket}/{key} does not exist") from None
        if error.response.get("Error", {}).get("Code") == "InvalidRange":
            return b""
        raise TransientError(f"reading s3://{bucket}/{key} failed: {error}") from error
    return response["Body"].read()


def iter_object_lines(bucket: str, key: str) -> Iterator[bytes]:
    """An object's lines as its body streams in (memory holds one chunk, not the object)."""
    with _read_errors(bucket, key):
        response = client("s3").get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    try:
        yield from body.iter_lines(chunk_size=1 << 16, keepends=True)
    finally:
        body.close()


def export_part_key(project_id: str, export_id: str, rendering: str, fragment: str, page: int) -> str:
    """One page's fragment, under the digest of what it was rendered with (``rendering``)."""
    return f"{export_parts_prefix(project_id, export_id, rendering)}{fragment}/{page:06d}"


def export_parts_prefix(project_id: str, export_id: str, rendering: str) -> str:
    return key_prefix("exports", project_id, export_id, "parts", rendering)


def export_schema_key(project_id: str, export_id: str) -> str:
    """The label schema an export's pages render with, pinned by its plan (no format's output has this name)."""
    return key_prefix("exports", project_id, export_id) + "label-schema.json"


def export_key(project_id: str, export_id: str, file_name: str) -> str:
    return key_prefix("exports", project_id, export_id) + file_name


def export_shard_key(project_id: str, export_id: str, shard_name: str) -> str:
    return f"exports/{project_id}/{export_id}/shards/{shard_name}"


MULTIPART_MIN = 8 * 1024 * 1024  # S3 parts are 5 MiB at least (but the last); these are 8


def write_multipart(bucket: str, key: str, chunks: Iterable[bytes], content_type: str) -> int:
    """Upload the concatenation of ``chunks`` as one object by multipart upload, holding one part in memory at a
    time; returns its size. An upload that fails is aborted (no parts are left behind)."""
    s3 = client("s3")
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]
    parts: list[dict[str, Any]] = []
    buffer, size = bytearray(), 0

    def send(data: bytearray) -> None:
        """Sent as it is: a copy of each part would double the step's peak memory."""
        number = len(parts) + 1
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data)["ETag"]
        parts.append({"ETag": etag, "PartNumber": number})

    try:
        for chunk in chunks:
            buffer += chunk
            size += len(chunk)
            if len(buffer) >= MULTIPART_MIN:
                send(buffer)
                buffer = bytearray()
        if buffer or not parts:
            send(buffer)
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    except Exception:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        raise
    return size
