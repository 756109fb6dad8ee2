"""Why a presigned request was refused, as S3 words it: the error document and its common cases."""

from __future__ import annotations

import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)
STATUS_TEXT = {400: "400 Bad Request", 403: "403 Forbidden", 411: "411 Length Required"}


@dataclass(frozen=True)
class Rejection:
    """Why a presigned request was refused; rendered as an S3 XML error document."""

    status: int
    code: str
    message: str
    details: dict[str, str] = field(default_factory=dict)

    @property
    def status_line(self) -> str:
        return STATUS_TEXT.get(self.status, f"{self.status} Error")

    def body(self, request_id: str) -> bytes:
        root = ET.Element("Error")
        ET.SubElement(root, "Code").text = self.code
        ET.SubElement(root, "Message").text = self.message
        for name, value in self.details.items():
            ET.SubElement(root, name).text = value
        ET.SubElement(root, "RequestId").text = request_id
        ET.SubElement(root, "HostId").text = request_id
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


# What S3 answers a request without credentials on a bucket that is not public (Block Public Access).
ANONYMOUS_REFUSED = Rejection(403, "AccessDenied", "Access Denied")


def query_error(message: str) -> Rejection:
    return Rejection(400, "AuthorizationQueryParametersError", message)


def unknown_access_key(access_key: str) -> Rejection:
    return Rejection(
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        {"AWSAccessKeyId": access_key},
    )


def missing_form_field(name: str) -> Rejection:
    return invalid_form_argument(
        name,
        "",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
    )


def invalid_form_argument(name: str, value: str, message: str) -> Rejection:
    return Rejection(400, "InvalidArgument", message, {"ArgumentName": name, "ArgumentValue": value})


def invalid_policy(message: str) -> Rejection:
    return Rejection(400, "InvalidPolicyDocument", f"Invalid Policy: {message}")


def policy_signature_mismatch(access_key: str, policy_text: str, expected: str, provided: str) -> Rejection | None:
    """None when the POST policy's signature is the expected one, else S3's ``SignatureDoesNotMatch``."""
    if hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace")):
        return None
    return Rejection(
        403,
        "SignatureDoesNotMatch",
        SIGNATURE_MISMATCH,
        {
            "AWSAccessKeyId": access_key,
            "StringToSign": policy_text,
            "SignatureProvided": provided,
            "StringToSignBytes": " ".join(f"{byte:02x}" for byte in policy_text.encode()),
        },
    )


def entity_too_large(size: int, limit: int) -> Rejection:
    return Rejection(
        400,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
        {"ProposedSize": str(size), "MaxSizeAllowed": str(limit)},
    )


def entity_too_small(size: int, limit: int) -> Rejection:
    return Rejection(
        400,
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
        {"ProposedSize": str(size), "MinSizeAllowed": str(limit)},
    )


def pre_data_too_large(limit: int) -> Rejection:
    # S3's code and wording (sic).
    return Rejection(
        400,
        "MaxPostPreDataLengthExceeded",
        "Your POST request fields preceeding the upload file was too large.",
        {"MaxPostPreDataLengthBytes": str(limit)},
    )
