"""The human workflow in the app stack: review and launch state machines, the event bus and its consumers."""

from __future__ import annotations

import json

from annolake_service.adapters.dynamo.items import JobFileItem, TaskItem
from annolake_service.domain.workflow import TaskStatus

from tests.infra.templates import intrinsic, one, resources, state_machine_definition


def _handler_of(template: dict, resource: object) -> str:
    function_id = intrinsic(resource)["Fn::GetAtt"][0]
    return template["Resources"][function_id]["Properties"]["Handler"].rsplit(".", 1)[1]


def _machine(template: dict, name: str) -> dict:
    (machine,) = [
        r
        for r in resources(template, "AWS::StepFunctions::StateMachine").values()
        if r["Properties"].get("StateMachineName") == name
    ]
    return machine


def test_review_machine_waits_on_task_tokens_for_every_human_step(dev):
    machine = _machine(dev.app_template, "annolake-dev-review")
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    definition = state_machine_definition(machine)
    states = definition["States"]
    assert definition["StartAt"] == "PrepareFile"
    slots = states["AnnotateSlots"]
    assert (slots["Type"], slots["ItemsPath"], slots["ResultPath"]) == ("Map", "$.slots", "$.annotated")
    waiting = {
        "OpenAnnotateTask": slots["ItemProcessor"]["States"]["OpenAnnotateTask"],
        "OpenReviewTask": states["OpenReviewTask"],
        "OpenReworkTask": states["OpenReworkTask"],
    }
    for name, state in waiting.items():
        assert state["Resource"].endswith("lambda:invoke.waitForTaskToken"), name
        payload = state["Parameters"]["Payload"]
        assert payload["token.$"] == "$$.Task.Token", name  # the token goes to the task's item, never a URL
        assert _handler_of(dev.app_template, state["Parameters"]["FunctionName"]) == "open_task_handler"
        assert "TimeoutSeconds" not in state  # a task's timeout hands it on to someone else; the file keeps waiting
    assert waiting["OpenReviewTask"]["Parameters"]["Payload"]["kind"] == "review"
    assert waiting["OpenReworkTask"]["Parameters"]["Payload"]["send_back_to.$"] == "$.send_back_to"
    assert states["OpenReworkTask"]["Next"] == "OpenReviewTask"  # a reworked file is always reviewed again
    choices = states["ReviewDecision"]["Choices"]
    assert choices == [{"Variable": "$.decision", "StringEquals": "request_changes", "Next": "OpenReworkTask"}]
    assert states["ReviewDecision"]["Default"] == "CompleteFile"
    assert states["NeedsReview"]["Choices"][0]["Next"] == "OpenReviewTask"
    assert states["NeedsReview"]["Default"] == "FileDone"  # ConsolidateSlots completed a file needing no review
    # the one annotator's submit completed a file needing no review: the workflow ends, consolidating nothing
    assert states["AnnotateSlots"]["Next"] == "CompletedBySubmit"
    assert states["CompletedBySubmit"]["Choices"] == [
        {
            "And": [
                {"Variable": "$.annotated[0].completed", "IsPresent": True},
                {"Variable": "$.annotated[0].completed", "BooleanEquals": True},
            ],
            "Next": "FileDone",
        }
    ]
    assert states["CompletedBySubmit"]["Default"] == "ConsolidateSlots"
    for name in (
        "PrepareFile",
        "AnnotateSlots",
        "ConsolidateSlots",
        "OpenReviewTask",
        "OpenReworkTask",
        "CompleteFile",
    ):
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
        ]
    assert states["RecordFailure"]["Next"] == "ReviewFailed" and states["ReviewFailed"]["Type"] == "Fail"


def test_launch_is_a_map_over_chunks(dev):
    definition = state_machine_definition(_machine(dev.app_template, "annolake-dev-launch"))
    chunks = definition["States"]["LaunchChunks"]
    assert (chunks["Type"], chunks["ItemsPath"], chunks["MaxConcurrency"]) == ("Map", "$.plan.chunks", 4)
    assert definition["StartAt"] == "PlanLaunchStep"


def test_new_files_reach_the_workflow_through_a_queue_with_a_dead_letter_queue(dev):
    template = dev.app_template
    _, bus = one(template, "AWS::Events::EventBus")
    assert bus["Properties"]["Name"] == "annolake-dev"
    rules = {r["Properties"]["Description"]: r["Properties"] for r in resources(template, "AWS::Events::Rule").values()}
    ingested = rules["FileIngested: file_ingested"]
    assert ingested["EventPattern"] == {"source": ["annolake"], "detail-type": ["file_ingested"]}
    assert rules["Webhooks: every domain event"]["EventPattern"] == {"source": ["annolake"]}
    queue_id = ingested["Targets"][0]["Arn"]["Fn::GetAtt"][0]
    queue = template["Resources"][queue_id]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    functions = template["Resources"]
    mappings = {
        functions[m["Properties"]["FunctionName"]["Ref"]]["Properties"]["Handler"].rsplit(".", 1)[1]: m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if "Queue" in json.dumps(m["Properties"]["EventSourceArn"])  # the table's stream has its own test
    }
    assert set(mappings) == {"file_ingested_handler", "handler"}
    for mapping in mappings.values():
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_webhook_secrets_are_scoped_to_their_prefix(dev):
    template = dev.app_template
    grants: dict[str, set[str]] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in (a for a in actions if a.startswith("secretsmanager:")):
                listed = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                grants.setdefault(action, set()).update(str(r) for r in listed)
    assert set(grants) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:CreateSecret",
        "secretsmanager:DeleteSecret",
    }
    for resources_ in grants.values():  # webhook signing secrets, and those of the models users host
        assert all(("secret:annolake/dev/webhooks/*" in r) != ("secret:annolake/dev/models/*" in r) for r in resources_)
    assert any("secret:annolake/dev/models/*" in r for r in grants["secretsmanager:GetSecretValue"])


def test_the_workflows_progress_reads_only_tasks_submitted_and_job_files_completed_from_the_tables_stream(dev):
    template = dev.app_template
    functions = template["Resources"]
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if functions[m["Properties"]["FunctionName"]["Ref"]]["Properties"]["Handler"].endswith(".progress_handler")
    ]
    assert "StreamArn" in json.dumps(mapping["EventSourceArn"])
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 10
    on_failure = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert functions[on_failure]["Type"] == "AWS::SQS::Queue"
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    # the item kinds and statuses the service writes (held together with the construct's literals here)
    assert patterns == [
        {"dynamodb": {"NewImage": {"kind": {"S": [TaskItem.KIND]}, "status": {"S": [TaskStatus.SUBMITTED.value]}}}},
        {"dynamodb": {"NewImage": {"kind": {"S": [JobFileItem.KIND]}, "status": {"S": ["complete"]}}}},
    ]
