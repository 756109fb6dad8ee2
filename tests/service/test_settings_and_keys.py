from annolake_service.domain.api_keys import issue_key, secret_matches
from annolake_service.shared.settings import Settings


def test_settings_read_the_contract_variables():
    settings = Settings.from_env(
        {
            "TABLE_NAME": "t",
            "MEDIA_BUCKET": "m",
            "DROP_BUCKET": "d",
            "PRESIGN_TTL_SECONDS": "60",
            "USER_POOL_ID": "us-east-1_x",
        }
    )
    assert (settings.table_name, settings.media_bucket, settings.drop_bucket) == ("t", "m", "d")
    assert settings.presign_ttl_seconds == 60
    assert settings.cognito_issuer == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x"
    local = Settings.from_env({"USER_POOL_ID": "us-east-1_p", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566/"})
    assert local.cognito_issuer == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_p"  # moto issues this
    assert local.cognito_jwks_url == "http://127.0.0.1:4566/us-east-1_p/.well-known/jwks.json"


def test_api_key_secret_is_stored_hashed_and_verifies():
    key = issue_key()
    assert key.client_secret not in key.secret_hash
    assert secret_matches(key.client_secret, key.secret_hash)
    assert not secret_matches(key.client_secret + "x", key.secret_hash)
    assert issue_key().client_id != key.client_id


def test_an_api_key_secret_can_follow_an_option_on_a_command_line():
    """``token_urlsafe`` starts one secret in 64 with "-", which argparse takes for an option (a CI failure)."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--client-secret")
    for _ in range(500):
        secret = issue_key().client_secret
        assert parser.parse_args(["--client-secret", secret]).client_secret == secret
