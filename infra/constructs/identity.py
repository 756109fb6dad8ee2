"""Cognito: the user pool people sign in to, and the web UI's app client."""

from __future__ import annotations

from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.nag import acknowledge


class Identity(Construct):
    """Admins create users (no self sign-up); sign-in by username or e-mail; optional TOTP MFA."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            sign_in_case_sensitive=False,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal_policy,
        )
        # A browser cannot keep a secret; the SPA signs in with SRP (or username/password over TLS) and
        # sends the ID token to the API, which verifies it against the pool's JWKS.
        self.client = self.user_pool.add_client(
            "SpaClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
        )
        acknowledge(
            self.user_pool,
            "COG2",
            "MFA is optional (TOTP) by product decision: accounts are created by project admins, and each "
            "user can turn TOTP on.",
        )
        acknowledge(
            self.user_pool,
            "COG8",
            "The Essentials feature plan is enough: with no self sign-up, the Plus plan's threat protection "
            "against sign-up and credential abuse does not justify its price.",
        )
