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
  - Step Functions executions and their history, including executions in flight when the process stops (the
    runtime notifies objects left in notified buckets again, so their ingest runs again);
    Lambda invocations in flight; SQS messages; CloudWatch logs and metrics; EventBridge events.
  - S3 object versions other than the current one, object tags and ACLs, multipart uploads in progress;
    original ETags and LastModified dates when restored through the API (restored in this process, they stay).
  - Cognito tokens and sessions (everybody signs in again), MFA settings, refresh tokens.
  - Anything about the resources themselves: they come from the template on every start.

Durability (``runtime.LocalPlatform``)
  Every change to the kept data is journaled before the emulator acknowledges it (``capture``, ``journal``: one
  record per request, appended and fsynced with group commit); on start the checkpoint with the journal replayed
  over it is written into the new resources (``StateStore.recover``), and the journal is folded into the
  checkpoint periodically and on a clean shutdown (``StateStore.checkpoint``). S3 bodies live in
  ``home/blobs/<sha256>`` from the moment moto stores them (``blobs``), and the checkpoint and journal name them
  by digest. ``StateStore.snapshot`` (a full read of the emulator through its API) remains for an emulator
  that is not in this process.

  Files: the checkpoint ``home/state.json`` is written to ``state.json.tmp``, fsynced and renamed over the old
  one, then the directory is fsynced; it records the last journal segment it holds (``journal_through``), so
  segments are deleted only after it is in place, and a crash in between replays nothing twice. Blobs are
  written once (temporary file, fsync, rename) and deleted only when neither the checkpoint nor a live object
  names them.

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
