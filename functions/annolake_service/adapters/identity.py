"""Cognito user administration (invitations)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from annolake_service.adapters.aws_clients import client
from annolake_service.shared.settings import get_settings


def ensure_user(username: str, email: str | None) -> bool:
    """Create the pool user if absent; Cognito e-mails them a temporary password. True if created."""
    cognito = client("cognito-idp")
    pool = get_settings().user_pool_id
    try:
        cognito.admin_get_user(UserPoolId=pool, Username=username)
        return False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "UserNotFoundException":
            raise
    if not email:
        raise LookupError(username)
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        DesiredDeliveryMediums=["EMAIL"],
    )
    return True
