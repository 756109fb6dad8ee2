"""botocore's presigners, made to sign for the timestamp a URL carries instead of the current time.

``SigV4Auth.add_auth`` sets ``request.context['timestamp']`` to the current time and then calls
``_modify_request_before_signing``, the first step that reads it (for ``X-Amz-Date`` and the credential
scope); the canonical request, string to sign and signing key all read it afterwards. Putting the URL's
timestamp back at that point signs for it, without patching any clock shared with other threads (the
emulator serves requests on many threads, and in-process Lambda handlers sign their own calls meanwhile).
The SigV2 signer takes its ``Expires`` value from ``_get_date``, overridden the same way.
"""

from __future__ import annotations

from botocore.auth import HmacV1QueryAuth, S3SigV4QueryAuth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class _FixedTimestamp:
    """Mixin for botocore's SigV4 query signers: sign for a given ``X-Amz-Date`` instead of now."""

    _fixed_timestamp: str

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        request.context["timestamp"] = self._fixed_timestamp
        super()._modify_request_before_signing(request)  # type: ignore[misc]

    def string_to_sign(self, request: AWSRequest, canonical_request: str) -> str:
        result: str = super().string_to_sign(request, canonical_request)  # type: ignore[misc]
        # Kept for the SignatureDoesNotMatch error body, as S3 gives them.
        request.context["canonical_request"] = canonical_request
        request.context["string_to_sign"] = result
        return result


class FixedTimeS3SigV4QueryAuth(_FixedTimestamp, S3SigV4QueryAuth):
    """botocore's S3 presigner (unnormalized path, ``UNSIGNED-PAYLOAD``) for a given ``X-Amz-Date``."""

    def __init__(self, credentials: Credentials, service_name: str, region_name: str, expires: int, timestamp: str):
        super().__init__(credentials, service_name, region_name, expires=expires)
        self._fixed_timestamp = timestamp


class FixedTimeSigV4QueryAuth(_FixedTimestamp, SigV4QueryAuth):
    """botocore's generic presigner (non-S3 credential scope) for a given ``X-Amz-Date``."""

    def __init__(self, credentials: Credentials, service_name: str, region_name: str, expires: int, timestamp: str):
        super().__init__(credentials, service_name, region_name, expires=expires)
        self._fixed_timestamp = timestamp


class FixedExpiresHmacV1QueryAuth(HmacV1QueryAuth):
    """botocore's SigV2 presigner with the URL's own ``Expires`` (epoch seconds) instead of now + expires."""

    def __init__(self, credentials: Credentials, expires_epoch: str):
        super().__init__(credentials)
        self._expires_epoch = expires_epoch

    def _get_date(self) -> str:
        return self._expires_epoch
