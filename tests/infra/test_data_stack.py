"""The data stack: the single table, buckets, user pool."""

from __future__ import annotations

import pytest

from tests.infra.conftest import DOMAIN_ORIGIN
from tests.infra.templates import one, resources

STRING = "S"


def _keys(table: dict) -> dict[str, str]:
    return {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]}


def test_single_table_keys_indexes_and_ttl(dev):
    _, table = one(dev.data, "AWS::DynamoDB::Table", "TablesMain")
    props = table["Properties"]
    assert _keys(props) == {"PK": "HASH", "SK": "RANGE"}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    definitions = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert definitions == {name: STRING for name in ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")}
    indexes = {gsi["IndexName"]: gsi for gsi in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"GSI1", "GSI2"}
    for name, gsi in indexes.items():
        assert _keys(gsi) == {f"{name}PK": "HASH", f"{name}SK": "RANGE"}
        assert gsi["Projection"] == {"ProjectionType": "ALL"}


@pytest.mark.parametrize(("stage", "protected"), [("dev", False), ("local", False), ("prod", True)])
def test_tables_follow_the_stage(synth_stage, stage, protected):
    tables = resources(synth_stage(stage).data, "AWS::DynamoDB::Table")
    assert len(tables) == 1  # the single table: nothing else is stored in DynamoDB
    for table in tables.values():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": protected}
        assert props["DeletionProtectionEnabled"] is protected
        assert table["DeletionPolicy"] == ("Retain" if protected else "Delete")


def _bucket(template: dict, name: str) -> tuple[str, dict]:
    return one(template, "AWS::S3::Bucket", f"Storage{name}")


@pytest.mark.parametrize("name", ["AccessLogsBucket", "MediaBucket", "DropBucket"])
def test_buckets_are_private_encrypted_and_ssl_only(dev, name):
    logical_id, bucket = _bucket(dev.data, name)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(dev.data, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    assert len(policies) == 1
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policies[0]
    )


@pytest.mark.parametrize(("name", "prefix"), [("MediaBucket", "media/"), ("DropBucket", "drop/")])
def test_data_buckets_log_access_to_the_log_bucket(dev, name, prefix):
    logs_id, _ = _bucket(dev.data, "AccessLogsBucket")
    _, bucket = _bucket(dev.data, name)
    assert bucket["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": prefix,
    }


@pytest.mark.parametrize(
    ("stage", "origins"),
    [("dev", ["http://127.0.0.1:8000", "http://localhost:8000"]), ("prod", [DOMAIN_ORIGIN])],
)
def test_media_bucket_cors_for_the_browser(synth_stage, stage, origins):
    _, bucket = _bucket(synth_stage(stage).data, "MediaBucket")
    (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD", "POST", "PUT"]
    assert rule["AllowedOrigins"] == origins
    assert "ETag" in rule["ExposedHeaders"]


def test_media_bucket_lifecycle(dev):
    _, bucket = _bucket(dev.data, "MediaBucket")
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    uploads = [r for r in rules if r.get("Prefix") == "uploads/"]
    assert uploads == [{"Id": "expire-uploads", "Prefix": "uploads/", "ExpirationInDays": 1, "Status": "Enabled"}]
    slices = [r for r in rules if r.get("Prefix") == "slices/"]
    assert slices == [{"Id": "expire-slices", "Prefix": "slices/", "ExpirationInDays": 7, "Status": "Enabled"}]
    aborts = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert len(aborts) == 1 and "Prefix" not in aborts[0]
    assert aborts[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_drop_bucket_aborts_incomplete_uploads_and_has_no_cors(dev):
    _, bucket = _bucket(dev.data, "DropBucket")
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert "DaysAfterInitiation" in rule["AbortIncompleteMultipartUpload"]
    assert "CorsConfiguration" not in bucket["Properties"]


def test_buckets_follow_the_stage(dev, prod):
    for synth, policy in ((dev, "Delete"), (prod, "Retain")):
        assert {b["DeletionPolicy"] for b in resources(synth.data, "AWS::S3::Bucket").values()} == {policy}


def test_user_pool_admin_created_users_strong_passwords_optional_totp(dev):
    _, pool = one(dev.data, "AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["AliasAttributes"] == ["email"]  # sign in with the username or the e-mail
    assert "UsernameAttributes" not in props
    assert props["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
    }
    assert props["MfaConfiguration"] == "OPTIONAL"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]


def test_spa_client_has_no_secret(dev):
    pool_id, _ = one(dev.data, "AWS::Cognito::UserPool")
    _, client = one(dev.data, "AWS::Cognito::UserPoolClient")
    props = client["Properties"]
    assert props["UserPoolId"] == {"Ref": pool_id}
    assert props["GenerateSecret"] is False
    assert set(props["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }


def test_outputs_name_what_users_need(dev):
    outputs = dev.data["Outputs"]
    for name in ("TableName", "MediaBucketName", "DropBucketName", "UserPoolId", "UserPoolClientId"):
        assert name in outputs
