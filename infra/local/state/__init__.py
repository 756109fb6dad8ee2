"""Keep the local emulator's data across restarts of ``make up``.

Every start provisions the synthesized template afresh on an empty emulator, so physical names (tables,
buckets, user pool ids) may differ from one start to the next; logical ids (``Stack/LogicalId``) do not. This
package snapshots the *data* of the provisioned resources, keyed by logical id, into ``home`` and writes it back
into the newly provisioned resources on the next start.

What is kept
  - DynamoDB: every item of every table in the inventory (full paginated scan, typed DynamoDB JSON; binary
    values base64-encoded).
  - S3: every current object version of every bucket in the inventory: key, body, Content-Type, user
    metadata and the Cache-Control / Content-Disposition / Content-Encoding / Content-Language headers.
  - Cognito: every user of every user pool in the inventory: username, attributes, enabled flag, status,
    password, and ``sub``; and the pools' groups and memberships.

What is not kept
  - Step Functions executions and their history, including executions in flight when the process stops;
    Lambda invocations in flight; SQS messages; CloudWatch logs and metrics; EventBridge events.
  - S3 object versions other than the current one, object tags and ACLs, multipart uploads in progress;
    original ETags and LastModified dates (restored objects get new ones).
  - Cognito tokens and sessions (everybody signs in again), MFA settings, refresh tokens.
  - Anything about the resources themselves: they come from the template on every start.

Durability and the crash window
  A snapshot is taken periodically and on a clean shutdown (``runtime.LocalPlatform``). Changes made since the
  last completed snapshot are lost if the process is killed (SIGKILL, power loss, a crash). A snapshot is not a
  point-in-time copy: tables, buckets and pools are read one after the other while the platform keeps serving,
  so a snapshot taken during writes can hold an item written after an object it refers to was read (the next
  snapshot catches up). A snapshot that fails half-way leaves the previous one intact:

  - object bodies are stored content-addressed in ``home/blobs/<sha256>``, each written once (temporary file,
    fsync, rename) and never rewritten; an unchanged object (same logical bucket, key, ETag and size as in the
    previous manifest) is not downloaded again;
  - the manifest ``home/state.json`` is written to ``state.json.tmp``, fsynced and renamed over the old one
    (``os.replace``), then the directory is fsynced; a leftover ``state.json.tmp`` from a crash is ignored;
  - blobs that the new manifest no longer references are deleted only after it is in place.

Passwords
  Cognito does not return passwords through its API. The local runtime runs moto in this same process, so
  they are read from moto's in-process backend
  (``moto.cognitoidp.models.cognitoidp_backends[account][region].user_pools[pool_id].users[username].password``)
  and written back with ``AdminSetUserPassword``. ``state.json`` therefore holds passwords in clear text (the
  emulator's users are local test users; the file is created with mode 0600). When the emulator is *not* in
  this process, users are saved without passwords and restored with none set (a warning says so).

Other in-process hooks (restore only; skipped with a warning when moto is not in this process)
  - A restored user keeps its ``sub`` (and, in pools whose users sign in with an email or phone number, its
    generated username), so ids stored in tables keep pointing at the same user.
  - DynamoDB stream triggers are detached from the tables while their items are written back (moto 5.2.5
    invokes stream-triggered functions synchronously and ignores ``Enabled=False`` on the mapping), so
    restoring does not re-run the side effects that produced the data. S3 bucket notifications are switched
    off through the API while objects are written back, for the same reason.

Resources present in the snapshot but missing from the inventory (the template changed) are skipped with a
warning on restore, and carried over unchanged by later snapshots, so that data is not lost by a template edit
that is later reverted.
"""

from __future__ import annotations

from infra.local.state.model import Inventory, SnapshotStats, StateStoreError
from infra.local.state.store import StateStore

__all__ = ["Inventory", "SnapshotStats", "StateStore", "StateStoreError"]
