"""Per-stage settings of the CDK app: one typed object, chosen by the ``stage`` context (default ``dev``)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

DEFAULT_STAGE = "dev"
LOCAL_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")
# Without a domain, the web stack's CloudFront distribution gets a generated *.cloudfront.net name that is
# unknown at synth time. S3 CORS only decides which pages may read responses; every request to the private
# buckets still needs a presigned URL, so this origin pattern does not widen access to the data.
CLOUDFRONT_ORIGINS = ("https://*.cloudfront.net",)


class UnknownStageError(ValueError):
    pass


@dataclass(frozen=True)
class StageConfig:
    name: str
    removal_policy: RemovalPolicy
    point_in_time_recovery: bool
    deletion_protection: bool
    log_retention: logs.RetentionDays
    cors_allowed_origins: tuple[str, ...]
    domain_name: str | None = None
    alarm_email: str | None = None
    allow_private_urls: bool = False  # from_url may fetch from private/loopback hosts (the local stage only)


def _dev(domain_origins: tuple[str, ...]) -> dict:
    return {
        "removal_policy": RemovalPolicy.DESTROY,
        "point_in_time_recovery": False,
        "deletion_protection": False,
        "log_retention": logs.RetentionDays.TWO_WEEKS,
        "cors_allowed_origins": LOCAL_ORIGINS + domain_origins,
    }


def _local(domain_origins: tuple[str, ...]) -> dict:
    return {**_dev(domain_origins), "log_retention": logs.RetentionDays.ONE_WEEK, "allow_private_urls": True}


def _prod(domain_origins: tuple[str, ...]) -> dict:
    return {
        "removal_policy": RemovalPolicy.RETAIN,
        "point_in_time_recovery": True,
        "deletion_protection": True,
        "log_retention": logs.RetentionDays.ONE_YEAR,
        "cors_allowed_origins": domain_origins or CLOUDFRONT_ORIGINS,
    }


_STAGES = {"dev": _dev, "local": _local, "prod": _prod}
VALID_STAGES = tuple(sorted(_STAGES))


def get_stage_config(name: str, *, domain_name: str | None = None, alarm_email: str | None = None) -> StageConfig:
    """The settings of stage ``name``; ``domain_name`` (the web UI's host) adds its https origin to CORS."""
    if name not in _STAGES:
        raise UnknownStageError(f"unknown stage {name!r}; valid stages are: {', '.join(VALID_STAGES)}")
    if alarm_email is not None and "@" not in alarm_email:
        raise ValueError(f"alarm_email {alarm_email!r} is not an e-mail address")
    if domain_name is not None and ("://" in domain_name or "/" in domain_name):
        raise ValueError(f"domain_name {domain_name!r} must be a bare host name such as annolake.example.com")
    domain_origins = (f"https://{domain_name}",) if domain_name else ()
    return StageConfig(name=name, domain_name=domain_name, alarm_email=alarm_email, **_STAGES[name](domain_origins))
