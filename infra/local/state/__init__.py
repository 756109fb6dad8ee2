"""Keep the local emulator's data across restarts of ``make up``, and across crashes.

Every start provisions the synthesized template afresh on an empty emulator, so physical names (tables,
buckets, user pool ids) may differ from one start to the next; logical ids (``Stack/LogicalId``) do not. This
package keeps the *data* of the provisioned resources, keyed by logical id, in ``home`` and writes it back
into the newly provisioned resources on the next start.

What is kept
  - DynamoDB: every item of every table in the inventory (typed DynamoDB JSON; binary values base64-encoded).
  - S3: every current object version of every bucket in the inventory: key, body (by digest), Content-Type,
    user metadata and the Cache-Control / Content-Disposition / Content-Encoding / Content-Language headers.
  - Cognito: every user of every user pool in the inventory: username, attributes, enabled flag, status,
    password, and ``sub``; and the pools' groups and memberships.

What is not kept
  - Step Functions executions and their history, including executions in flight when the process stops (the
    runtime notifies objects left in notified buckets again, so their ingest runs again);
    Lambda invocations in flight; SQS messages; CloudWatch logs and metrics; EventBridge events.
  - S3 object versions other than the current one, object tags and ACLs, multipart uploads in progress.
  - Cognito tokens and sessions (everybody signs in again), MFA settings, refresh tokens.
  - Anything about the resources themselves: they come from the template on every start.

How (``runtime.LocalPlatform``)
  Every change to the kept data is journaled before the emulator acknowledges it (``capture``, ``journal``: one
  record per request, appended and fsynced with group commit). The journal is folded into the checkpoint
  ``home/state.db`` (``checkpoint``: SQLite, one row per item, object and user pool) periodically and on a
  clean shutdown (``StateStore.checkpoint``); a fold costs what the journal since the last one holds, and
  records the last segment folded, so segments are deleted only once the checkpoint holds them and a crash in
  between replays nothing twice. On start the journal left over is folded the same way and the checkpoint is
  written into the new resources (``StateStore.recover``). S3 bodies live in ``home/blobs/<sha256>`` from the
  moment moto stores them (``blobs``; written once: temporary file, fsync, rename), and the checkpoint and
  journal name them by digest; a blob is deleted once neither the checkpoint nor a live object names it.

Passwords
  Cognito does not return passwords through its API. moto runs in this same process, so they are read from
  its backend (``pool.users[username].password``) and set again with ``AdminSetUserPassword``. ``state.db``
  and the journal therefore hold passwords in clear text (the emulator's users are local test users; the files
  are created with mode 0600 in a directory of mode 0700).

Other in-process hooks (restore)
  - A restored user keeps its ``sub`` (and, in pools whose users sign in with an email or phone number, its
    generated username), so ids stored in tables keep pointing at the same user.
  - DynamoDB stream triggers are detached from the tables while their items are written back (moto 5.2.5
    invokes stream-triggered functions synchronously and ignores ``Enabled=False`` on the mapping), so
    restoring does not re-run the side effects that produced the data. S3 bucket notifications are switched
    off through the API while objects are written back, for the same reason.

Resources present in the checkpoint but missing from the inventory (the template changed) are skipped with a
warning on restore and kept in the checkpoint as they were, so that data is not lost by a template edit that
is later reverted.
"""

from __future__ import annotations

from infra.local.state.model import Inventory, RestoreStats, StateStoreError
from infra.local.state.store import StateStore

__all__ = ["Inventory", "RestoreStats", "StateStore", "StateStoreError"]
