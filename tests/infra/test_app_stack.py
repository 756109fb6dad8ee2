"""The app stack: functions, HTTP API, ingest (notifications + state machine), alarms, IAM grants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from annolake_service.adapters.dynamo.items import DatasetMemberItem, FileItem

from tests.infra.templates import intrinsic, one, resources, state_machine_definition

REPO_ROOT = Path(__file__).resolve().parents[2]
API = "annolake_service.api.handler.handler"
TRIGGER = "annolake_service.handlers.object_created.handler"
PROCESS = "annolake_service.handlers.ingest.process_handler"
REGISTER = "annolake_service.handlers.ingest.register_handler"
QUARANTINE = "annolake_service.handlers.ingest.quarantine_handler"
HAND_OVER = "annolake_service.handlers.ingest.hand_over_video_handler"
VIDEO_PROBE, VIDEO_SEGMENT, VIDEO_FINISH, VIDEO_DISCARD = (
    f"annolake_service.handlers.video.{step}_handler" for step in ("probe", "segment", "finish", "discard")
)
VIDEO_STEPS = {VIDEO_PROBE, VIDEO_SEGMENT, VIDEO_FINISH, VIDEO_DISCARD}
IMPORT_STEPS = {f"annolake_service.handlers.imports.{step}_handler" for step in ("plan", "chunk", "finish", "fail")}
WORKFLOW_STEPS = {
    f"annolake_service.handlers.workflow.{step}_handler"
    for step in (
        "prepare",
        "open_task",
        "consolidate",
        "complete",
        "fail",
        "plan_launch",
        "launch_chunk",
        "finish_launch",
        "fail_launch",
        "progress",
        "file_ingested",
    )
}
EXPORT_STEPS = {f"annolake_service.handlers.exports.{step}_handler" for step in ("plan", "page", "assemble", "fail")}
SNAPSHOT_STEPS = {f"annolake_service.handlers.snapshots.{step}_handler" for step in ("plan", "chunk", "finish", "fail")}
WEBHOOKS = "annolake_service.handlers.webhooks.handler"
PREDICT_STEPS = {
    *(f"annolake_service.handlers.predict.{step}_handler" for step in ("plan", "finish", "fail")),
    "annolake_service.handlers.model.handler",
}
QUERY_INDEX = "annolake_service.handlers.query_index.handler"
COMPACTOR = "annolake_service.handlers.query_index.compact_handler"
SERVICE_HANDLERS = {
    API,
    TRIGGER,
    PROCESS,
    HAND_OVER,
    *VIDEO_STEPS,
    REGISTER,
    QUARANTINE,
    *IMPORT_STEPS,
    *EXPORT_STEPS,
    *SNAPSHOT_STEPS,
    *WORKFLOW_STEPS,
    WEBHOOKS,
    QUERY_INDEX,
    COMPACTOR,
    *PREDICT_STEPS,
}
COMMON_ENV = {
    "TABLE_NAME",
    "MEDIA_BUCKET",
    "DROP_BUCKET",
    "USER_POOL_ID",
    "USER_POOL_CLIENT_ID",
    "STAGE",
    "POWERTOOLS_SERVICE_NAME",
    "LOG_LEVEL",
    "ALLOW_PRIVATE_URLS",
    "SECRET_PREFIX",
    "EVENT_BUS_NAME",
}
RETRIED = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",
]


def service_functions(template: dict) -> dict[str, tuple[str, dict]]:
    """handler -> (logical id, properties) of the functions running ``functions/``."""
    found = {
        r["Properties"]["Handler"]: (lid, r["Properties"])
        for lid, r in resources(template, "AWS::Lambda::Function").items()
        if r["Properties"].get("Handler", "").startswith("annolake_service.")
    }
    assert set(found) == SERVICE_HANDLERS
    return found


def role_statements(template: dict, function_props: dict) -> list[dict]:
    role_id = function_props["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statements: list[dict]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        found.update([value] if isinstance(value, str) else value)
    return found


def import_of(data_template: dict, value: dict) -> dict:
    """The data-stack output value behind an ``Fn::ImportValue`` of the app stack."""
    name = value["Fn::ImportValue"]
    (output,) = [o for o in data_template["Outputs"].values() if o.get("Export", {}).get("Name") == name]
    return output["Value"]


# --- functions --------------------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "retention"), [("dev", 14), ("local", 7), ("prod", 365)])
def test_every_function_runs_the_service_package_on_arm_python312(synth_stage, stage, retention):
    template = synth_stage(stage).app_template
    layer_id, _ = one(template, "AWS::Lambda::LayerVersion", "DependencyLayer")
    model_layer_id, _ = one(template, "AWS::Lambda::LayerVersion", "PredictionsModelLayer")
    video_layer_id, _ = one(template, "AWS::Lambda::LayerVersion", "IngestVideoLayer")
    own_layers = {
        "annolake_service.handlers.model.handler": model_layer_id,  # the model layer alone (its own build)
        **dict.fromkeys(VIDEO_STEPS, video_layer_id),  # PyAV: the video steps alone
    }
    log_groups = resources(template, "AWS::Logs::LogGroup")
    for handler, (_, props) in service_functions(template).items():
        assert props["Runtime"] == "python3.12", handler
        assert props["Architectures"] == ["arm64"], handler
        assert props["TracingConfig"] == {"Mode": "Active"}, handler
        assert props["Layers"] == [{"Ref": own_layers.get(handler, layer_id)}], handler
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group]["Properties"]["RetentionInDays"] == retention, handler


def test_one_code_asset_for_all_functions(dev):
    keys = {props["Code"]["S3Key"] for _, props in service_functions(dev.app_template).values()}
    assert len(keys) == 1


def test_handlers_exist_in_the_code_asset(dev):
    for handler in service_functions(dev.app_template):
        module, function = handler.rsplit(".", 1)
        source = REPO_ROOT / "functions" / (module.replace(".", "/") + ".py")
        assert source.is_file(), f"{handler}: {source} is missing"
        text = source.read_text()
        assert f"def {function}(" in text or f"{function} =" in text, f"{handler}: no {function} in {source}"


def test_function_sizes(dev):
    functions = service_functions(dev.app_template)
    assert functions[API][1]["MemorySize"] == 1024
    assert functions[API][1]["Timeout"] == 29
    for handler in (PROCESS, HAND_OVER, REGISTER, QUARANTINE):
        assert functions[handler][1]["Timeout"] == 60
    assert functions[PROCESS][1]["MemorySize"] == 1024
    for handler, timeout in ((VIDEO_PROBE, 300), (VIDEO_SEGMENT, 900)):  # the decoders: a segment may take minutes
        video = functions[handler][1]
        assert video["Timeout"] == timeout
        assert video["MemorySize"] == 10240 and video["EphemeralStorage"] == {"Size": 4096}
    for handler in (VIDEO_FINISH, VIDEO_DISCARD):
        assert functions[handler][1]["MemorySize"] == 1024 and functions[handler][1]["Timeout"] == 60


def test_dependency_layer(dev):
    _, layer = one(dev.app_template, "AWS::Lambda::LayerVersion", "DependencyLayer")
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


# --- environment contract ---------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["dev", "local", "prod"])
def test_a_variable_has_one_value_on_every_function(synth_stage, stage):
    values: dict[str, set[str]] = {}
    for _, r in resources(synth_stage(stage).app_template, "AWS::Lambda::Function").items():
        for name, value in r["Properties"].get("Environment", {}).get("Variables", {}).items():
            values.setdefault(name, set()).add(json.dumps(value, sort_keys=True))
    conflicting = {name: found for name, found in values.items() if len(found) > 1}
    assert not conflicting


def test_every_function_has_the_common_environment(dev):
    for handler, (_, props) in service_functions(dev.app_template).items():
        env = props["Environment"]["Variables"]
        assert set(env) >= COMMON_ENV, handler
        assert env["STAGE"] == "dev"
        assert env["POWERTOOLS_SERVICE_NAME"] == "annolake"
        assert env["LOG_LEVEL"] == "INFO"


def test_state_machine_arn_only_where_executions_start(dev):
    sm_id, _ = one(dev.app_template, "AWS::StepFunctions::StateMachine", "IngestStateMachine")
    for handler, (_, props) in service_functions(dev.app_template).items():
        env = props["Environment"]["Variables"]
        if handler in (API, TRIGGER):
            assert env["INGEST_STATE_MACHINE_ARN"] == {"Ref": sm_id}
        else:
            assert "INGEST_STATE_MACHINE_ARN" not in env, handler
    video_id, _ = one(dev.app_template, "AWS::StepFunctions::StateMachine", "IngestVideoStateMachine")
    for handler, (_, props) in service_functions(dev.app_template).items():
        env = props["Environment"]["Variables"]
        assert env.get("VIDEO_INGEST_STATE_MACHINE_ARN") == ({"Ref": video_id} if handler == HAND_OVER else None)


def test_environment_points_at_the_data_stack_resources(dev):
    env = service_functions(dev.app_template)[API][1]["Environment"]["Variables"]
    expected = {
        "TABLE_NAME": ("AWS::DynamoDB::Table", "TablesMain"),
        "MEDIA_BUCKET": ("AWS::S3::Bucket", "StorageMediaBucket"),
        "DROP_BUCKET": ("AWS::S3::Bucket", "StorageDropBucket"),
        "USER_POOL_ID": ("AWS::Cognito::UserPool", "Identity"),
        "USER_POOL_CLIENT_ID": ("AWS::Cognito::UserPoolClient", "Identity"),
    }
    for name, (resource_type, prefix) in expected.items():
        logical_id, _ = one(dev.data, resource_type, prefix)
        assert import_of(dev.data, env[name]) == {"Ref": logical_id}, name


# --- HTTP API ---------------------------------------------------------------------------------


def test_http_api_routes_everything_under_api_to_the_function(dev):
    template = dev.app_template
    api_fn, _ = service_functions(template)[API]
    alias_id, alias = one(template, "AWS::Lambda::Alias")  # its published version (SnapStart)
    assert alias["Properties"]["FunctionName"] == {"Ref": api_fn}
    api_id, api = one(template, "AWS::ApiGatewayV2::Api")
    assert api["Properties"]["ProtocolType"] == "HTTP"
    (route,) = resources(template, "AWS::ApiGatewayV2::Route").values()
    assert route["Properties"]["RouteKey"] == "ANY /api/{proxy+}"
    assert route["Properties"].get("AuthorizationType", "NONE") == "NONE"  # the app authenticates
    integration_id, integration = one(template, "AWS::ApiGatewayV2::Integration")
    assert route["Properties"]["Target"] == {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]}
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_id}
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Ref": alias_id}
    ]
    assert [p["Principal"] for p in permissions] == ["apigateway.amazonaws.com"]
    assert api_id


def test_default_stage_logs_access_and_throttles(dev):
    _, stage = one(dev.app_template, "AWS::ApiGatewayV2::Stage")
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    log_group = props["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]
    assert dev.app_template["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
    assert "$context.requestId" in props["AccessLogSettings"]["Format"]
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0


def test_api_url_is_an_output(dev):
    assert "ApiUrl" in dev.app_template["Outputs"]


# --- ingest -----------------------------------------------------------------------------------


def _arrivals_queue(template: dict) -> str:
    trigger, _ = service_functions(template)[TRIGGER]
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": trigger}
    ]
    return mapping["EventSourceArn"]["Fn::GetAtt"][0]


def test_notifications_on_both_buckets_live_in_the_app_stack(dev):
    assert not resources(dev.data, "Custom::S3BucketNotifications")
    queue = _arrivals_queue(dev.app_template)
    by_bucket = {}
    for notification in resources(dev.app_template, "Custom::S3BucketNotifications").values():
        props = notification["Properties"]
        bucket = import_of(dev.data, props["BucketName"])["Ref"]
        (config,) = props["NotificationConfiguration"]["QueueConfigurations"]
        assert config["Events"] == ["s3:ObjectCreated:*"]
        assert config["QueueArn"] == {"Fn::GetAtt": [queue, "Arn"]}
        by_bucket[bucket] = config.get("Filter")
    media, _ = one(dev.data, "AWS::S3::Bucket", "StorageMediaBucket")
    drop, _ = one(dev.data, "AWS::S3::Bucket", "StorageDropBucket")
    assert by_bucket == {
        drop: None,
        media: {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
    }


def test_arrivals_reach_the_trigger_in_batches_and_dead_letter_after_three_tries(dev):
    template = dev.app_template
    trigger, props = service_functions(template)[TRIGGER]
    queue_id = _arrivals_queue(template)
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": trigger}
    ]
    assert mapping["BatchSize"] == 10 and mapping["MaximumBatchingWindowInSeconds"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert not resources(template, "AWS::Lambda::EventInvokeConfig")  # no asynchronous invocations left
    queue = template["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["VisibilityTimeout"] >= 6 * props["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    dead_letters = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert template["Resources"][dead_letters]["Properties"]["SqsManagedSseEnabled"] is True
    for queued in (queue_id, dead_letters):
        (policy,) = [
            p
            for p in resources(template, "AWS::SQS::QueuePolicy").values()
            if {"Ref": queued} in p["Properties"]["Queues"]
        ]
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )
    (policy,) = [
        p
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    sends = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "s3.amazonaws.com"}
    ]
    assert len(sends) == 2  # the drop and media buckets', each only from its bucket
    assert all("sqs:SendMessage" in s["Action"] and "aws:SourceArn" in json.dumps(s["Condition"]) for s in sends)


def test_the_query_index_updater_reads_the_tables_stream_and_writes_only_index_files(dev):
    template = dev.app_template
    (table,) = resources(dev.data, "AWS::DynamoDB::Table").values()
    # both images: the workflow's progress reads what a task or job file was and became
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    updater, props = service_functions(template)[QUERY_INDEX]
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": updater}
    ]
    assert import_of(dev.data, mapping["EventSourceArn"]) == {
        "Fn::GetAtt": [one(dev.data, "AWS::DynamoDB::Table")[0], "StreamArn"]
    }
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 10
    # only the changes of files and memberships, the items the index holds (the kinds as the service writes them;
    # a removed item has only its old image)
    kinds = {"S": [FileItem.KIND, DatasetMemberItem.KIND]}
    assert [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]] == [
        {"dynamodb": {"NewImage": {"kind": kinds}}},
        {"dynamodb": {"OldImage": {"kind": kinds}}},
    ]
    queue_arn = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert template["Resources"][queue_arn["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"
    statements = role_statements(template, props)
    assert {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"} <= actions(statements)
    s3_resources = [
        json.dumps(r)
        for st in statements
        if any(
            str(a).startswith("s3:") and a != "s3:GetBucket*" and a != "s3:List*"
            for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
        )
        for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    ]
    assert s3_resources and all(r.endswith('"/index/*"]]}') for r in s3_resources if "Join" in r), s3_resources


def test_a_schedule_compacts_the_query_indexes_with_grants_for_that_only(dev):
    template = dev.app_template
    compactor, props = service_functions(template)[COMPACTOR]
    rules = [
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]
    (rule,) = rules
    assert rule["State"] == "ENABLED" and rule["ScheduleExpression"].startswith("rate(")
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [compactor, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0  # a failed run is alarmed; the next one retries
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [compactor, "Arn"]}
    ]
    assert [p["Principal"] for p in permissions] == ["events.amazonaws.com"]
    granted = actions(role_statements(template, props))
    dynamodb = {a for a in granted if a.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DescribeTable"}
    assert not any(a.startswith(("dynamodb:GetRecords", "sqs:", "states:")) for a in granted)
    writes = [st for st in role_statements(template, props) if _puts(st) or "s3:DeleteObject*" in actions([st])]
    written = [r for st in writes for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
    objects = [json.dumps(r) for r in written if "Fn::Join" in r]  # the bucket itself: for s3:List* only
    assert objects and all(r.endswith('"/index/*"]]}') for r in objects), written


def test_ingest_state_machine_is_express_logged_and_traced(dev):
    _, machine = one(dev.app_template, "AWS::StepFunctions::StateMachine", "IngestStateMachine")
    props = machine["Properties"]
    assert props["StateMachineType"] == "EXPRESS"
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    log_group = props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    assert dev.app_template["Resources"][log_group["Fn::GetAtt"][0]]["Type"] == "AWS::Logs::LogGroup"
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_ingest_definition(dev):
    template = dev.app_template
    functions = {lid: handler for handler, (lid, _) in service_functions(template).items()}
    _, machine = one(template, "AWS::StepFunctions::StateMachine", "IngestStateMachine")
    definition = state_machine_definition(machine)
    states = definition["States"]
    assert definition["StartAt"] == "ProcessArrivals"
    assert set(states) == {
        "ProcessArrivals",
        "RegisterFiles",
        "Ingested",
        "QuarantineUnregistered",
        "RegistrationsQuarantined",
    }
    each = states["ProcessArrivals"]
    assert each["Type"] == "Map" and each["ItemsPath"] == "$.arrivals" and each["ResultPath"] == "$.arrivals"
    assert each["MaxConcurrency"] == 10 and each["Next"] == "RegisterFiles"
    processor = each["ItemProcessor"]
    item_states = processor["States"]
    assert processor["StartAt"] == "ProcessMedia"
    assert set(item_states) == {
        "ProcessMedia",
        "IsVideo",
        "StartVideoIngest",
        "HandedToVideoIngest",
        "Processed",
        "QuarantineFile",
        "Quarantined",
    }
    # A video (ProcessMedia recognises it by its first bytes) is handed to the video machine; an image goes on.
    choice = item_states["IsVideo"]
    assert choice["Type"] == "Choice" and choice["Default"] == "Processed"
    [rule] = choice["Choices"]
    assert rule["Next"] == "StartVideoIngest"
    assert {"Variable": "$.media.media_type", "StringEquals": "video"} in rule["And"]
    # The hand-over starts the video machine and does not wait: it registers or quarantines the file itself.
    for done in ("HandedToVideoIngest", "Processed", "Quarantined"):
        assert item_states[done] == {"Type": "Succeed"}

    retried = [{"ErrorEquals": RETRIED, "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2}]
    expected = {
        "ProcessMedia": (item_states, PROCESS, "$.media", "IsVideo"),
        "StartVideoIngest": (item_states, HAND_OVER, "$.video", "HandedToVideoIngest"),
        "QuarantineFile": (item_states, QUARANTINE, "$.quarantine", "Quarantined"),
        "RegisterFiles": (states, REGISTER, "$.files", "Ingested"),
        "QuarantineUnregistered": (states, QUARANTINE, "$.quarantined", "RegistrationsQuarantined"),
    }
    for name, (scope, handler, result_path, following) in expected.items():
        state = scope[name]
        assert state["Type"] == "Task"
        assert functions[intrinsic(state["Resource"])["Fn::GetAtt"][0]] == handler
        assert state["ResultPath"] == result_path
        assert state["Next"] == following
        assert state["Retry"] == retried
    for name in ("ProcessMedia", "StartVideoIngest"):
        assert "Parameters" not in item_states[name]  # payload_response_only: the function gets the arrival
        assert item_states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "QuarantineFile"}
        ]
    # The registration step gets the processed arrivals; out of retries, those not yet registered are quarantined.
    assert states["RegisterFiles"]["Parameters"] == {"arrivals.$": "$.arrivals"}
    assert states["RegisterFiles"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "QuarantineUnregistered"}
    ]
    assert states["QuarantineUnregistered"]["Parameters"] == {"arrivals.$": "$.arrivals", "error.$": "$.error"}
    assert "Catch" not in item_states["QuarantineFile"] and "Catch" not in states["QuarantineUnregistered"]
    assert states["Ingested"] == {"Type": "Succeed"}
    assert states["RegistrationsQuarantined"] == {"Type": "Succeed"}


# --- IAM --------------------------------------------------------------------------------------


def _started_machines(template: dict, props: dict) -> set[str]:
    """What a function may start: state machine logical ids (Ref) or names (ARNs built from fixed names)."""
    started = set()
    for statement in role_statements(template, props):
        value = statement["Action"]
        if "states:StartExecution" not in ([value] if isinstance(value, str) else value):
            continue
        resource = statement["Resource"]
        for item in resource if isinstance(resource, list) else [resource]:
            if "Ref" in item:
                named = resources(template, "AWS::StepFunctions::StateMachine")[item["Ref"]]["Properties"]
                started.add(named.get("StateMachineName", item["Ref"]))
            else:
                started.add(json.dumps(item).split("stateMachine:")[-1].split('"')[0])
    return started


def test_who_starts_which_state_machine(dev):
    template = dev.app_template
    functions = service_functions(template)
    ingest_id, _ = one(template, "AWS::StepFunctions::StateMachine", "IngestStateMachine")
    import_id, _ = one(template, "AWS::StepFunctions::StateMachine", "ImportsStateMachine")
    starters = {h: _started_machines(template, props) for h, (_, props) in functions.items()}
    assert {h for h, machines in starters.items() if ingest_id in machines} == {API, TRIGGER}
    assert {h for h, machines in starters.items() if import_id in machines} == {API}
    video_id, _ = one(template, "AWS::StepFunctions::StateMachine", "IngestVideoStateMachine")
    assert {h for h, machines in starters.items() if video_id in machines} == {HAND_OVER}
    review = {h for h, machines in starters.items() if "annolake-dev-review" in machines}
    assert review == {
        API,  # re-drive
        "annolake_service.handlers.workflow.launch_chunk_handler",
        "annolake_service.handlers.workflow.file_ingested_handler",
    }
    assert {h for h, machines in starters.items() if "annolake-dev-launch" in machines} == {API}


def _puts(statement: dict) -> bool:
    return "s3:PutObject" in actions([statement])


def test_grants_follow_what_each_handler_does(dev):
    template = dev.app_template
    granted = {h: actions(role_statements(template, props)) for h, (_, props) in service_functions(template).items()}
    dynamodb_writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:ReceiveMessage",  # the arrivals queue's batches
        "sqs:DeleteMessage",
        "states:StartExecution",
        "s3:GetObject*",
        "s3:DeleteObject*",  # late sidecars are attached by the trigger, then removed
        "dynamodb:UpdateItem",
    } <= granted[TRIGGER]
    assert "sqs:SendMessage" not in granted[TRIGGER]  # what fails is retried by the queue, no dead-letter sends
    for handler in (TRIGGER, REGISTER):  # they write only refused sidecars, under quarantine/ of the media bucket
        puts = [st for st in role_statements(template, service_functions(template)[handler][1]) if _puts(st)]
        resources_put = [
            r for st in puts for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
        ]
        assert resources_put and all(json.dumps(r).endswith('"/quarantine/*"]]}') for r in resources_put), handler
    assert not dynamodb_writes & granted[PROCESS]
    assert {"s3:PutObject", "s3:GetObject*"} <= granted[PROCESS]
    for handler in (REGISTER, QUARANTINE, API):
        assert dynamodb_writes <= granted[handler], handler
    assert "s3:DeleteObject*" in granted[REGISTER]


def test_roles_use_no_managed_policies_except_cdks_notification_handler(dev):
    with_managed = [
        lid
        for lid, r in resources(dev.app_template, "AWS::IAM::Role").items()
        if r["Properties"].get("ManagedPolicyArns")
    ]
    assert [lid for lid in with_managed if not lid.startswith("BucketNotificationsHandler")] == []


# --- monitoring -------------------------------------------------------------------------------


def test_alarms_notify_the_topic(dev):
    template = dev.app_template
    topic_id, _ = one(template, "AWS::SNS::Topic")
    api_fn, _ = service_functions(template)[API]
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())
    by_metric: dict[str, list[dict]] = {}
    for alarm in alarms:
        by_metric.setdefault(alarm["Properties"]["MetricName"], []).append(alarm["Properties"])
    assert set(by_metric) == {"Errors", "ExecutionsFailed", "ApproximateNumberOfMessagesVisible"}
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    compactor, _ = service_functions(template)[COMPACTOR]
    assert sorted(a["Dimensions"][0]["Value"]["Ref"] for a in by_metric["Errors"]) == sorted([api_fn, compactor])
    machines = {lid for lid in resources(template, "AWS::StepFunctions::StateMachine")} - {
        one(template, "AWS::StepFunctions::StateMachine", "Imports")[0],
        one(template, "AWS::StepFunctions::StateMachine", "Exports")[0],
        one(template, "AWS::StepFunctions::StateMachine", "Snapshots")[0],
    }
    watched = {a["Dimensions"][0]["Value"]["Ref"] for a in by_metric["ExecutionsFailed"]}
    # ingest, review, launch, predict (a failed import, export or snapshot build is reported on itself)
    assert watched == machines
    dead_letter_queues = [a for a in by_metric["ApproximateNumberOfMessagesVisible"]]
    # the S3 trigger's, one per domain-event consumer, the index updater's, the workflow progress's
    assert len(dead_letter_queues) == 5
    for dlq in dead_letter_queues:
        assert dlq["Namespace"] == "AWS/SQS"
        assert (dlq["ComparisonOperator"], dlq["Threshold"]) == ("GreaterThanThreshold", 0)


def test_alarm_topic_requires_ssl(dev):
    _, policy = one(dev.app_template, "AWS::SNS::TopicPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )


def test_email_subscription_only_with_alarm_email(dev, prod):
    assert not resources(dev.app_template, "AWS::SNS::Subscription")
    (subscription,) = resources(prod.app_template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"


# --- bulk imports ---------------------------------------------------------------------------------


def test_video_ingest_is_a_standard_machine_mapping_segments_whose_refusal_is_a_handled_outcome(dev):
    template = dev.app_template
    functions = {lid: handler for handler, (lid, _) in service_functions(template).items()}
    _, machine = one(template, "AWS::StepFunctions::StateMachine", "IngestVideoStateMachine")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"  # longer than an Express execution's 5 minutes
    definition = state_machine_definition(machine)
    assert definition["StartAt"] == "ProbeVideo"
    states = definition["States"]
    segments = states["ExtractSegments"]
    assert segments["Type"] == "Map" and segments["ItemsPath"] == "$.plan.segments"
    assert segments["MaxConcurrency"] == 16
    segment = segments["ItemProcessor"]["States"]["ExtractSegment"]
    assert functions[intrinsic(segment["Resource"])["Fn::GetAtt"][0]] == VIDEO_SEGMENT
    assert segment["Retry"][0]["ErrorEquals"] == RETRIED
    for name, handler in (("ProbeVideo", VIDEO_PROBE), ("FinishVideo", VIDEO_FINISH), ("DiscardVideo", VIDEO_DISCARD)):
        assert functions[intrinsic(states[name]["Resource"])["Fn::GetAtt"][0]] == handler
    for name in ("ProbeVideo", "ExtractSegments", "FinishVideo"):
        caught = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DiscardVideo"}]
        assert states[name]["Catch"] == caught, name
    assert states["DiscardVideo"]["Next"] == "VideoQuarantined"
    assert states["VideoQuarantined"]["Type"] == "Succeed"  # a refused video is recorded, not a failed execution
    assert states["FinishVideo"]["Next"] == "VideoIngested"


def test_import_job_is_a_standard_machine_mapping_chunks_with_retries_and_a_failure_path(dev):
    sm_id, machine = one(dev.app_template, "AWS::StepFunctions::StateMachine", "Imports")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    definition = state_machine_definition(machine)
    assert definition["StartAt"] == "PlanImport"
    states = definition["States"]
    chunks = states["ImportChunks"]
    assert chunks["Type"] == "Map" and chunks["ItemsPath"] == "$.plan.chunks" and chunks["MaxConcurrency"] == 4
    chunk_task = chunks["ItemProcessor"]["States"]["ImportChunk"]
    assert chunk_task["Retry"][0]["ErrorEquals"] == RETRIED
    for name in ("PlanImport", "ImportChunks", "FinishImport"):
        assert states[name]["Catch"][0]["Next"] == "FailImport", name
    assert states["FailImport"]["Next"] == "ImportFailed" and states["ImportFailed"]["Type"] == "Fail"
    api_env = service_functions(dev.app_template)[API][1]["Environment"]["Variables"]
    assert api_env["IMPORT_STATE_MACHINE_ARN"] == {"Ref": sm_id}


def test_export_is_a_standard_machine_mapping_pages_with_grants_limited_to_its_prefixes(dev):
    template = dev.app_template
    sm_id, machine = one(template, "AWS::StepFunctions::StateMachine", "Exports")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    definition = state_machine_definition(machine)
    states = definition["States"]
    assert definition["StartAt"] == "PlanExport"
    pages = states["ExportPages"]
    assert pages["Type"] == "Map" and pages["ItemsPath"] == "$.plan.pages" and pages["MaxConcurrency"] == 4
    assert pages["ItemProcessor"]["States"]["ExportPage"]["Retry"][0]["ErrorEquals"] == RETRIED
    for name in ("PlanExport", "ExportPages", "AssembleExport"):
        assert states[name]["Catch"][0]["Next"] == "FailExport", name
    functions = service_functions(template)
    assert functions[API][1]["Environment"]["Variables"]["EXPORT_STATE_MACHINE_ARN"] == {"Ref": sm_id}
    starters = {h for h, (_, props) in functions.items() if sm_id in _started_machines(template, props)}
    assert starters == {API}
    page = "annolake_service.handlers.exports.page_handler"
    statements = role_statements(template, functions[page][1])
    s3_resources = [
        json.dumps(r)
        for st in statements
        if any(a.startswith("s3:") for a in actions([st]))
        for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    ]
    objects = [r for r in s3_resources if r.startswith('{"Fn::Join"')]  # the rest: the bucket itself (listing)
    prefixes = ('"/snapshots/*"]]}', '"/exports/*"]]}', '"/projects/*/files/*/original.*"]]}')  # originals: packs
    assert objects and all(r.endswith(prefixes) for r in objects)
    puts = [st for st in statements if _puts(st)]
    assert puts and all(json.dumps(st["Resource"]).endswith('"/exports/*"]]}') for st in puts)
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & actions(statements)


def test_a_large_snapshot_is_built_by_a_standard_machine_mapping_chunks_within_the_snapshots_prefix(dev):
    template = dev.app_template
    sm_id, machine = one(template, "AWS::StepFunctions::StateMachine", "Snapshots")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    definition = state_machine_definition(machine)
    states = definition["States"]
    assert definition["StartAt"] == "PlanSnapshot"
    chunks = states["SnapshotChunks"]
    assert chunks["Type"] == "Map" and chunks["ItemsPath"] == "$.plan.chunks" and chunks["MaxConcurrency"] == 8
    assert chunks["ItemProcessor"]["States"]["SnapshotChunk"]["Retry"][0]["ErrorEquals"] == RETRIED
    for name in ("PlanSnapshot", "SnapshotChunks", "FinishSnapshot"):
        assert states[name]["Catch"][0]["Next"] == "FailSnapshot", name
    assert states["FailSnapshot"]["Next"] == "SnapshotFailed" and states["SnapshotFailed"]["Type"] == "Fail"
    functions = service_functions(template)
    assert functions[API][1]["Environment"]["Variables"]["SNAPSHOT_STATE_MACHINE_ARN"] == {"Ref": sm_id}
    starters = {h for h, (_, props) in functions.items() if sm_id in _started_machines(template, props)}
    assert starters == {API}
    for step in ("chunk", "finish", "fail"):
        statements = role_statements(template, functions[f"annolake_service.handlers.snapshots.{step}_handler"][1])
        objects = [
            json.dumps(r)
            for st in statements
            if any(a.startswith("s3:") for a in actions([st]))
            for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
            if json.dumps(r).startswith('{"Fn::Join"')
        ]
        assert objects and all(r.endswith('"/snapshots/*"]]}') for r in objects), step
    chunk_statements = role_statements(template, functions["annolake_service.handlers.snapshots.chunk_handler"][1])
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & actions(chunk_statements)


@pytest.mark.parametrize(("stage", "allowed"), [("dev", "false"), ("prod", "false"), ("local", "true")])
def test_only_the_local_stage_lets_from_url_reach_private_hosts(synth_stage, stage, allowed):
    for handler, (_, props) in service_functions(synth_stage(stage).app_template).items():
        assert props["Environment"]["Variables"]["ALLOW_PRIVATE_URLS"] == allowed, handler
