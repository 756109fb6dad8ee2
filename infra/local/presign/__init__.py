"""Refuse expired or tampered presigned URLs in front of moto, the way S3 does.

moto's S3 serves any presigned URL: expired, tampered, or signed with a key nobody has. ``PresignGuard`` is a
WSGI middleware placed in front of moto's WSGI app that checks *query-string* authentication and answers 403
with an S3-style XML error body when the check fails. Everything else passes through untouched, the request
body included (the guard never reads it: presigned requests sign ``UNSIGNED-PAYLOAD``).

What is checked
  SigV4 query auth (``X-Amz-Algorithm=AWS4-HMAC-SHA256`` and the other ``X-Amz-*`` parameters):
    - the parameters are complete and well formed (else 400 ``AuthorizationQueryParametersError``);
    - ``X-Amz-Expires`` is at most 604800 s (one week);
    - the access key is one of ``credentials`` (else 403 ``InvalidAccessKeyId``);
    - ``X-Amz-SignedHeaders`` is canonical, includes ``host`` and every header it lists was sent (else 403
      ``SignatureDoesNotMatch``);
    - the signature matches (else 403 ``SignatureDoesNotMatch``, with the canonical request and string to sign
      in the body, as S3 does, to help debugging);
    - the URL has not expired: ``X-Amz-Date + X-Amz-Expires >= now`` (else 403 ``AccessDenied``,
      "Request has expired"), and ``X-Amz-Date`` is not more than ``max_clock_skew`` in the future.
  SigV2 query auth (``AWSAccessKeyId``, ``Expires``, ``Signature``): expiry, access key and signature.

The signature is recomputed by botocore's own signers, for the URL's own timestamp (``signers``).

Presigned POST (browser form uploads, ``generate_presigned_post``)
  A ``POST`` to a bucket (``/<bucket>`` path style, or ``/`` on a virtual-hosted bucket host) with a
  ``multipart/form-data`` body and no ``Authorization`` header. moto stores such uploads without looking at the
  policy, so the guard buffers the body (to a spooled temporary file, at most ``max_form_body_bytes``), parses
  a copy with werkzeug's form parser (``parse_form_data``; no multipart parsing here) and, for a form that
  carries authentication (SigV4 ``x-amz-algorithm``/``-credential``/``-date``/``-signature``, or SigV2
  ``AWSAccessKeyId``/``signature``) or a ``policy``, checks what S3 checks:
    - the form: exactly one ``file`` part (else 400 ``InvalidArgument``), a ``key`` field and the auth fields
      (else 400 ``InvalidArgument``, "Bucket POST must contain a field named ..."), at most 20 KiB of fields
      besides the file (else 400 ``MaxPostPreDataLengthExceeded``), a well-formed body (else 400
      ``MalformedPOSTRequest``); field names are case-insensitive, as on S3;
    - the credential (SigV4 scope ``<key>/<yyyymmdd>/<region>/s3/aws4_request``, else 400 ``InvalidArgument``),
      the access key (403 ``InvalidAccessKeyId``), and the signature over the base64 policy as sent (403
      ``SignatureDoesNotMatch``), computed by botocore's POST presigners: ``S3SigV4PostAuth.signature`` with
      the signing key of the credential scope's day, region and service; ``HmacV1PostAuth.sign_string`` for
      SigV2;
    - the policy document: base64 JSON with ``expiration`` and a ``conditions`` list of well-formed
      conditions (else 400 ``InvalidPolicyDocument``); ``expiration`` not past (else 403 ``AccessDenied``,
      "Invalid according to Policy: Policy expired.");
    - every condition, in the policy's order: ``{"field": value}`` and ``["eq", "$field", value]`` (exact),
      ``["starts-with", "$field", prefix]`` (each item of a comma-separated ``Content-Type``), on the form's
      fields after ``${filename}`` is replaced by the file part's name (as S3 does; a missing field fails the
      condition), and ``bucket`` on the URL's bucket: 403 ``AccessDenied`` "Invalid according to Policy: Policy
      Condition failed: [...]"; ``["content-length-range", min, max]`` on the size of the ``file`` part: 400
      ``EntityTooSmall`` / ``EntityTooLarge``;
    - every form field is named by a condition, except ``policy``, ``file``, ``x-ignore-*`` and the signature
      fields (SigV4 ``x-amz-signature``; SigV2 ``AWSAccessKeyId`` and ``signature``): else 403
      ``AccessDenied`` "Invalid according to Policy: Extra input fields: ...". (S3 requires the policy to name
      ``x-amz-algorithm``, ``x-amz-credential`` and ``x-amz-date``; botocore's presigner always does.)
  A form that passes reaches moto with the same bytes (the buffer, rewound, and its ``CONTENT_LENGTH``), so moto
  stores the object and sends its ``s3:ObjectCreated:Post`` notifications. A body over ``max_form_body_bytes``
  (5 GiB, S3's largest single upload) is refused with 400 ``EntityTooLarge`` before it is read; one without
  a length (nor chunked framing) with 411 ``MissingContentLength``. Known differences from S3: S3 ignores
  fields after the ``file`` part, while the guard (and moto) see them, so they are checked too; the region of
  the credential is not compared with the bucket's.

Anonymous requests (no ``Authorization`` header, no query or form authentication): with ``is_s3`` given
(the emulator gives ``s3_requests_of(dispatcher)``), those moto would answer as S3 are refused with 403
``AccessDenied``, as S3 refuses them on buckets that block public access; moto would list, write and delete
for them, so a presigned URL stripped of its signature would otherwise reach any object. Without ``is_s3``
they pass through.

Not checked (passed through): requests carrying an ``Authorization`` header (moto handles those), CORS
preflight ``OPTIONS`` requests (S3 does not authenticate them either). A request carrying both an
``Authorization`` header and query-string auth is refused with 400 ``InvalidArgument``, as S3 does ("Only one
auth mechanism allowed").
"""

from infra.local.presign.guard import PresignGuard
from infra.local.presign.rejection import Rejection
from infra.local.presign.services import s3_requests_of

__all__ = ["PresignGuard", "Rejection", "s3_requests_of"]
