"""The emulator's changes to moto stack and install once, however many emulators a process starts."""

import io
import json
import types

import pytest

from infra.local.moto_patches import replace


@pytest.fixture
def shared_moto(moto_endpoint, monkeypatch):
    """Clients made in the test reach the session's moto server. Not ``mock_aws``: leaving it resets every
    backend of the process, the session's provisioned stack included, under the tests that run after."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_different_patches_stack_and_the_same_patch_installs_once():
    owner = types.SimpleNamespace(call=lambda: ["moto"])

    def wrap(tag):
        return lambda inner: lambda: [tag, *inner()]

    replace(owner, "call", "two-phase", wrap("two-phase"))
    replace(owner, "call", "serialized", wrap("serialized"))
    assert owner.call() == ["serialized", "two-phase", "moto"]
    replace(owner, "call", "two-phase", wrap("two-phase"))  # a second emulator in the same process
    replace(owner, "call", "serialized", wrap("serialized"))
    assert owner.call() == ["serialized", "two-phase", "moto"]


def test_each_state_machine_parse_has_its_own_scope_stack():
    """Executions start on their own threads, each parsing its definition; moto kept one scope stack for all
    parses, so two at once could empty each other's (an execution that died before its first state)."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    from infra.local import moto_patches

    moto_patches.thread_safe_state_machine_parsing()
    first, second = Preprocessor(), Preprocessor()
    first._query_language_per_scope.append("scope of the first parse")
    assert second._query_language_per_scope == []
    first._query_language_per_scope.pop()


def test_state_machines_still_parse():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from infra.local import moto_patches

    moto_patches.thread_safe_state_machine_parsing()
    inner = {"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": True}}}
    definition = {
        "StartAt": "Each",
        "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": inner, "End": True}},
    }
    program, _ = AmazonStateLanguageParser.parse(json.dumps(definition))
    assert program is not None


def test_a_definition_text_is_parsed_once_and_each_execution_gets_its_own_components():
    """moto parsed the definition and built its components at the start of every execution (~10 ms of the
    emulator's GIL per ingested file)."""
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    from infra.local import moto_patches

    moto_patches.parse_each_state_machine_once()
    moto_patches.parse_each_state_machine_once()  # a second emulator in the process: still one layer
    definition = json.dumps(
        {"StartAt": "Mark", "States": {"Mark": {"Type": "Pass", "Result": {"parsed": "once"}, "End": True}}}
    )
    parses, builds = [], []
    state_machine_rule, build = ASLParser.state_machine, Preprocessor.visitState_machine
    ASLParser.state_machine = lambda self: parses.append(1) or state_machine_rule(self)
    Preprocessor.visitState_machine = lambda self, ctx: builds.append(1) or build(self, ctx)
    try:
        first_program, first_tree = AmazonStateLanguageParser.parse(definition)
        second_program, second_tree = AmazonStateLanguageParser.parse(definition)
        other_program, _ = AmazonStateLanguageParser.parse(definition.replace("once", "again"))
        for _ in range(2):  # a broken definition is refused every time, not remembered
            with pytest.raises(ASLParserException):
                AmazonStateLanguageParser.parse('{"StartAt": "Missing", "States": ')
    finally:
        ASLParser.state_machine = state_machine_rule
        Preprocessor.visitState_machine = build
    assert len(parses) == 4  # the definition, the other one, the broken one twice
    assert len(builds) == 2  # the components of the definition and of the other one
    assert second_tree is first_tree
    assert second_program is not first_program
    assert type(second_program) is type(first_program) is type(other_program)
    shared = {id(v) for v in vars(first_program).values() if hasattr(v, "__dict__")}
    assert shared and not shared & {id(v) for v in vars(second_program).values()}  # nothing of one in the other


def test_s3_events_carry_a_sequencer_that_tells_a_new_put_from_a_redelivery():
    """The ingest names its execution after bucket/key/etag/sequencer: the same bytes PUT again must be a new event."""
    from moto.s3 import notifications
    from moto.s3.models import FakeKey

    from infra.local import moto_patches

    moto_patches.s3_events_carry_a_sequencer()
    bucket = types.SimpleNamespace(name="drop", arn="arn:aws:s3:::drop", region_name="us-east-1")

    def sequencer(key, event="s3:ObjectCreated:Put", notification="lambda"):
        event = notifications._get_s3_event(event, bucket, key, notification)
        return event["Records"][0]["s3"]["object"]["sequencer"]

    first, again = (
        FakeKey("demo/default/a.jpg", b"same bytes", account_id="123456789012", region_name="us-east-1")
        for _ in range(2)
    )
    assert sequencer(first) == sequencer(first, notification="queue")  # one event, every destination
    assert sequencer(first) < sequencer(again)  # the second PUT of the same bytes: a later, different event
    assert sequencer(first, "s3:ObjectRemoved:Delete") not in (sequencer(first), sequencer(again))


def test_a_multipart_upload_is_announced_once_as_s3_does(shared_moto):
    """aws-cli and boto3 upload files of 8 MB or more in parts; S3 announces the completed object once
    (``ObjectCreated:CompleteMultipartUpload``). moto announced a ``Put`` too, so such a drop was ingested twice."""
    import boto3

    from infra.local import moto_patches

    moto_patches.one_event_per_multipart_upload()
    s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="multipart-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="multipart-drop")
    s3.put_bucket_notification_configuration(
        Bucket="multipart-drop",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    upload = s3.create_multipart_upload(Bucket="multipart-drop", Key="big.jpg")["UploadId"]
    part = s3.upload_part(Bucket="multipart-drop", Key="big.jpg", UploadId=upload, PartNumber=1, Body=b"x" * 1024)
    s3.complete_multipart_upload(
        Bucket="multipart-drop",
        Key="big.jpg",
        UploadId=upload,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    s3.put_object(Bucket="multipart-drop", Key="small.jpg", Body=b"y")
    events = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            events += [
                (r["eventName"], r["s3"]["object"]["key"]) for r in json.loads(message["Body"]).get("Records", [])
            ]
    assert sorted(events) == [
        ("ObjectCreated:CompleteMultipartUpload", "big.jpg"),
        ("ObjectCreated:Put", "small.jpg"),
    ]


def test_patches_refuse_a_moto_release_they_were_not_written_against(monkeypatch):
    from infra.local.moto_patches import MOTO_VERSION, MotoVersionError, patching, require_moto_version

    require_moto_version()  # the installed moto is the pinned one
    with pytest.raises(MotoVersionError, match=f"written against moto {MOTO_VERSION}, but moto 9.9.9 is installed"):
        require_moto_version("9.9.9")
    monkeypatch.setattr(patching, "_installed_moto", lambda: "9.9.9")
    owner = types.SimpleNamespace(call=lambda: "moto")
    with pytest.raises(MotoVersionError):
        replace(owner, "call", "any", lambda inner: inner)
    assert owner.call() == "moto"  # nothing was replaced


def test_the_pinned_moto_is_the_one_the_patches_name():
    import re
    from pathlib import Path

    from infra.local.moto_patches import MOTO_VERSION

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert re.search(r'"moto\[server\]==([^"]+)"', pyproject).group(1) == MOTO_VERSION


def test_the_engine_parses_each_json_path_once_and_paths_still_read_and_write():
    """moto built a JSONPath parser (its yacc tables) for every path of every state of every execution."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    from infra.local import moto_patches

    moto_patches.parse_each_json_path_once()
    moto_patches.parse_each_json_path_once()  # a second emulator: still one layer
    assert json_path.parse("$.media.width") is json_path.parse("$.media.width")
    assert result_path.parse("$.media") is result_path.parse("$.media")
    state = {"bucket": "drop", "media": {"width": 640, "tags": ["a", "b"]}}
    assert json_path.extract_json("$.media.width", state) == 640
    assert json_path.extract_json("$.media.tags[1]", state) == "b"
    assert json_path.extract_json("$.media.tags[*]", state) == ["a", "b"]
    with pytest.raises(json_path.NoSuchJsonPathError):
        json_path.extract_json("$.missing", state)
    # ResultPath writes beside the input with a shared, parsed-once path; neither input is changed
    first = result_path.parse("$.file").update_or_create({"key": "a"}, {"id": 1})
    second = result_path.parse("$.file").update_or_create({"key": "b"}, {"id": 2})
    assert (first, second) == ({"key": "a", "file": {"id": 1}}, {"key": "b", "file": {"id": 2}})


def test_a_definite_path_into_an_array_element_reads_its_value_as_step_functions_does():
    """``$.annotated[0].completed`` read by a Choice rule is the element's value; moto gave ``[True]``, so a
    ``BooleanEquals`` on it never matched. A filter still gives a list (what moto's own change was for)."""
    import importlib

    from moto.stepfunctions.parser.asl.utils import json_path

    from infra.local import moto_patches

    choice = importlib.import_module(
        "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals"
    )
    moto_patches.definite_paths_give_their_value()
    moto_patches.definite_paths_give_their_value()  # a second emulator: still one layer
    state = {"annotated": [{"completed": True, "slot": 0}], "params": [{"Name": "a", "Value": 1}]}
    for extract in (json_path.extract_json, choice.extract_json):
        assert extract("$.annotated[0].completed", state) is True
        assert extract("$.annotated[0]", state) == {"completed": True, "slot": 0}
        assert extract("$.params[?(@.Name=='a')].Value", state) == [1]
        assert extract("$.annotated[*].slot", state) == [0]
        with pytest.raises(json_path.NoSuchJsonPathError):
            extract("$.annotated[1].completed", state)


def test_action_names_are_listed_once_per_response_class_and_stay_the_same():
    import moto.core.responses as responses
    from moto.core.utils import method_names_from_class as listed
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import S3Response

    from infra.local import moto_patches

    moto_patches.action_names_once_per_class()
    for clazz in (DynamoHandler, S3Response):
        first = responses.method_names_from_class(clazz)
        assert first == listed(clazz) and "put_item" in responses.method_names_from_class(DynamoHandler)
        first.append("not_an_action")  # a caller changing its list changes no one else's
        assert "not_an_action" not in responses.method_names_from_class(clazz)


def test_request_bodies_read_as_before_without_the_debug_files_wrapper():
    """Debug mode's ``files`` wrapper (a class made per request) is gone; bodies, forms and files read as before."""
    from flask import Flask
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.datastructures import ImmutableMultiDict
    from werkzeug.test import EnvironBuilder

    from infra.local import moto_patches

    moto_patches.no_debug_form_wrapper()
    moto_patches.no_debug_form_wrapper()
    app = Flask("moto")
    app.debug = True  # as moto's backend apps run
    body = json.dumps({"TableName": "t"}).encode()
    with app.app_context():
        json_body = EnvironBuilder(method="POST", data=body, content_type="application/x-amz-json-1.0")
        request = BackendRequest(json_body.get_environ())
        assert request.get_data() == body and request.data == body and not request.files
        assert type(request.files) is ImmutableMultiDict  # not a per-request debug subclass
        upload = {"key": "a.jpg", "file": (io.BytesIO(b"jpeg"), "a.jpg")}
        form = BackendRequest(EnvironBuilder(method="POST", data=upload).get_environ())
        assert form.form["key"] == "a.jpg" and form.files["file"].read() == b"jpeg"


def test_a_bucket_listing_that_races_a_delete_lists_what_the_bucket_held(shared_moto):
    """moto copied the key names, then looked each up again: a key deleted in between raised KeyError (a 500)."""
    import boto3
    from moto.s3.models import s3_backends

    from infra.local.moto_patches import s3_listings_survive_concurrent_deletes

    s3_listings_survive_concurrent_deletes()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="race-bucket")
    for name in ("a", "b", "c"):
        s3.put_object(Bucket="race-bucket", Key=name, Body=name.encode())
    keys = s3_backends["123456789012"]["aws"].get_bucket("race-bucket").keys
    listings = {
        "items": (keys.items, lambda entry: entry[0]),
        "values": (keys.values, lambda entry: entry.name),
        "lists": (keys.lists, lambda entry: entry[0]),
    }
    for kind, (listing, name_of) in listings.items():
        running = listing()
        names = [name_of(next(running))]
        s3.delete_object(Bucket="race-bucket", Key="c")  # removed while the listing runs
        names += [name_of(entry) for entry in running]
        assert names == ["a", "b", "c"], kind  # what the bucket held when the listing began
        s3.put_object(Bucket="race-bucket", Key="c", Body=b"c")
    assert sorted(k for k, _ in keys.items()) == ["a", "b", "c"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="race-bucket")["Contents"]] == ["a", "b", "c"]


def _update_table(name: str = "updates"):
    import boto3

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    return dynamodb


def test_update_expressions_validate_and_apply_as_before_with_the_faster_copy_and_walks(shared_moto):
    """The arrival's update (a new item: SET, DELETE from a set, REMOVE) and functions, arithmetic and nested
    paths on an existing one give the item DynamoDB gives, each text parsed once and applied twice; bad
    expressions are still refused, each with its reason, every time."""
    from botocore.exceptions import ClientError

    from infra.local import moto_patches

    moto_patches.copy_update_expressions_by_pickling()
    moto_patches.walk_update_expressions_by_class()
    moto_patches.find_clauses_by_class()
    moto_patches.parse_each_expression_text_once()
    dynamodb = _update_table()
    key = {"pk": {"S": "demo/bench/p00001"}}
    before = dynamodb.update_item(
        TableName="updates",
        Key=key,
        UpdateExpression="SET #k = :k, #f = :f DELETE #r :r REMOVE #w",
        ExpressionAttributeNames={"#k": "kind", "#f": "file_id", "#r": "refused", "#w": "sidecar_waiting"},
        ExpressionAttributeValues={":k": {"S": "arrival"}, ":f": {"S": "f1"}, ":r": {"SS": ["q1"]}},
        ReturnValues="UPDATED_OLD",
    )
    assert "Attributes" not in before  # a new item: nothing replaced
    expression = (
        "SET n = if_not_exists(n, :zero) + :one, tags = list_append(if_not_exists(tags, :empty), :tag), "
        "m.deeper = :v, refused = :set ADD hits :one REMOVE file_id"
    )
    values = {
        ":zero": {"N": "0"},
        ":one": {"N": "1"},
        ":empty": {"L": []},
        ":tag": {"L": [{"S": "a"}]},
        ":v": {"S": "deep"},
        ":set": {"SS": ["q1", "q2"]},
    }
    dynamodb.put_item(TableName="updates", Item={**key, "kind": {"S": "arrival"}, "m": {"M": {}}})
    for _ in range(2):
        dynamodb.update_item(
            TableName="updates", Key=key, UpdateExpression=expression, ExpressionAttributeValues=values
        )
    dynamodb.update_item(
        TableName="updates",
        Key=key,
        UpdateExpression="DELETE refused :gone",
        ExpressionAttributeValues={":gone": {"SS": ["q1"]}},
    )
    item = dynamodb.get_item(TableName="updates", Key=key)["Item"]
    assert item == {
        **key,
        "kind": {"S": "arrival"},
        "n": {"N": "2"},
        "hits": {"N": "2"},
        "tags": {"L": [{"S": "a"}, {"S": "a"}]},
        "m": {"M": {"deeper": {"S": "deep"}}},
        "refused": {"SS": ["q2"]},
    }
    refused = {
        "SET pk = :v": "Cannot update attribute pk",
        "SET a = :v, a = :v": "Two document paths overlap",
        "SET a = :v REMOVE a": "Two document paths overlap",
        "SET a = absent + :v": "does not exist",  # arithmetic on an attribute the item lacks
    }
    for bad, reason in [*refused.items(), *refused.items()]:
        with pytest.raises(ClientError) as refusal:
            dynamodb.update_item(
                TableName="updates", Key=key, UpdateExpression=bad, ExpressionAttributeValues={":v": {"N": "1"}}
            )
        assert refusal.value.response["Error"]["Code"] == "ValidationException"
        assert reason in refusal.value.response["Error"]["Message"], (bad, refusal.value.response["Error"])


def test_an_update_text_checked_once_is_refused_where_its_names_or_table_make_it_wrong(shared_moto, monkeypatch):
    """The clause-count, overlap and key checks run once per text, names and table keys: repeated writes skip
    them, while the same text is refused when its names point at the key or at one path twice, or when another
    table has that attribute as its key, every time."""
    from botocore.exceptions import ClientError
    from moto.dynamodb.parsing import validators

    from infra.local import moto_patches

    moto_patches.parse_each_expression_text_once()
    moto_patches.check_each_text_once()
    walks = []
    count_walk = validators.ActionCountValidator.traverse
    monkeypatch.setattr(
        validators.ActionCountValidator, "traverse", lambda self, node: walks.append(1) or count_walk(self, node)
    )
    dynamodb = _update_table("checked")
    key = {"pk": {"S": "a"}}
    text = "SET #x = :v, #y = :w"
    for n in range(4):
        dynamodb.update_item(
            TableName="checked",
            Key=key,
            UpdateExpression=text,
            ExpressionAttributeNames={"#x": "x", "#y": "y"},
            ExpressionAttributeValues={":v": {"N": str(n)}, ":w": {"S": "w"}},
        )
    assert len(walks) == 1  # the first write checked it; three more skipped the check
    assert dynamodb.get_item(TableName="checked", Key=key)["Item"] == {**key, "x": {"N": "3"}, "y": {"S": "w"}}
    dynamodb.create_table(
        TableName="keyed_by_x",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "x", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "x", "KeyType": "HASH"}],
    )
    for table, names, reason in [
        ("checked", {"#x": "pk", "#y": "y"}, "Cannot update attribute pk"),
        ("checked", {"#x": "x", "#y": "x"}, "Two document paths overlap"),
        ("keyed_by_x", {"#x": "x", "#y": "y"}, "Cannot update attribute x"),  # the names that passed above
    ]:
        for _ in range(2):
            with pytest.raises(ClientError) as refusal:
                dynamodb.update_item(
                    TableName=table,
                    Key=key if table == "checked" else {"x": {"S": "a"}},
                    UpdateExpression=text,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={":v": {"N": "1"}, ":w": {"S": "w"}},
                )
            assert reason in refusal.value.response["Error"]["Message"], (table, names)


def test_a_condition_text_kept_lexed_is_judged_on_each_write_s_own_values(shared_moto):
    """The claim's condition, one text with new values at each claim: a write passes or fails on its own
    values, and a condition moto cannot read is refused at every write."""
    from botocore.exceptions import ClientError

    dynamodb = _update_table("claims")
    key = {"pk": {"S": "task"}}
    dynamodb.put_item(TableName="claims", Item={**key, "seq": {"N": "0"}, "status": {"S": "open"}})
    claim = {
        "TableName": "claims",
        "Key": key,
        "UpdateExpression": "SET seq = :next",
        "ConditionExpression": "(seq = :seq) AND (#s IN (:open, :reserved))",
        "ExpressionAttributeNames": {"#s": "status"},
    }
    values = {":open": {"S": "open"}, ":reserved": {"S": "reserved"}}
    for seq in range(3):
        dynamodb.update_item(
            **claim, ExpressionAttributeValues=values | {":seq": {"N": str(seq)}, ":next": {"N": str(seq + 1)}}
        )
    with pytest.raises(ClientError) as stale:  # a claim that read the task before the last one
        dynamodb.update_item(**claim, ExpressionAttributeValues=values | {":seq": {"N": "2"}, ":next": {"N": "9"}})
    assert stale.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert dynamodb.get_item(TableName="claims", Key=key)["Item"]["seq"] == {"N": "3"}
    refusals = []
    for _ in range(2):  # moto answers this one with a 500 (DynamoDB: a ValidationException): the same each time
        with pytest.raises(ClientError) as unreadable:
            dynamodb.update_item(
                TableName="claims",
                Key=key,
                UpdateExpression="SET seq = :v",
                ConditionExpression="seq = = :v",
                ExpressionAttributeValues={":v": {"N": "1"}},
            )
        refusals.append(unreadable.value.response["Error"]["Code"])
    assert refusals[0] == refusals[1]
    assert dynamodb.get_item(TableName="claims", Key=key)["Item"]["seq"] == {"N": "3"}


def test_a_condition_tree_kept_per_text_names_and_value_names_judges_each_parse_s_own_values(monkeypatch):
    """The tree is parsed once per text, names and value names; each parse judges with its own values, names
    point where each parse's names point, and a condition moto refuses is refused at every parse."""
    from moto.dynamodb.comparisons import ConditionExpressionParser, create_condition_expression_parser
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from infra.local import moto_patches

    moto_patches.parse_each_expression_text_once()
    moto_patches.parse_each_condition_once()
    moto_patches.parse_each_condition_once()  # a second emulator in the process: still one layer
    item = Item(
        DynamoType({"S": "k"}),
        None,
        {"seq": {"N": "3"}, "status": {"S": "held"}, "owner": {"S": "ann"}, "tags": {"L": [{"S": "a"}]}},
    )
    text = "(seq BETWEEN :low AND :high) AND (#s IN (:a, :b) OR (begins_with(#o, :p) AND size(tags) = :n))"

    def judged(names: dict, **values: dict) -> bool:
        parser = create_condition_expression_parser(text, names, {f":{k}": v for k, v in values.items()})
        return parser.parse().expr(item)

    parsed = []
    paths = ConditionExpressionParser._parse_paths
    monkeypatch.setattr(
        ConditionExpressionParser, "_parse_paths", lambda self, *args: parsed.append(1) or paths(self, *args)
    )
    status = {"#s": "status", "#o": "owner"}
    seen = {"low": {"N": "1"}, "high": {"N": "5"}, "a": {"S": "open"}, "b": {"S": "held"}}
    owner = {"p": {"S": "an"}, "n": {"N": "1"}}
    assert judged(status, **seen, **owner)
    assert not judged(status, **(seen | {"high": {"N": "2"}}), **owner)  # the same text, other values
    assert not judged(status, **(seen | {"b": {"S": "done"}}), **(owner | {"p": {"S": "bo"}}))
    assert judged(status, **(seen | {"b": {"S": "done"}}), **owner)  # the owner's prefix and the list's size
    assert not judged({"#s": "owner", "#o": "owner"}, **seen, **(owner | {"p": {"S": "bo"}}))  # other names
    parser = create_condition_expression_parser(text, status, {f":{k}": v for k, v in (seen | owner).items()})
    parser.parse()
    assert sorted(parser.expr_attr_values_found) == [":a", ":b", ":high", ":low", ":n", ":p"]
    assert sorted(parser.expr_attr_names_found) == ["#o", "#s", "seq", "tags"]  # as moto lists them
    assert len(parsed) == 2  # one tree for each set of names
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017, PT011 - moto's own error for a condition it cannot read
            ConditionExpressionParser("seq = = :v", {}, {":v": {"N": "1"}}).parse()


def test_an_item_copied_through_marshal_is_whole_and_separate():
    """The old image of an update (its stream record, the answer's old attributes, a transaction's undo) is
    copied through the marshalled form: every attribute type, and no later change of the item reaches it."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from infra.local.moto_patches.dynamodb_compact import copied

    attrs = {
        "pk": {"S": "file"},
        "n": {"N": "1.5"},
        "b": {"B": "AAEC"},
        "ok": {"BOOL": True},
        "none": {"NULL": True},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": ["AAE="]},
        "instances": {"L": [{"M": {"id": {"S": "i1"}, "box": {"L": [{"N": "1"}, {"N": "2"}]}}}]},
        "counts": {"M": {"car": {"N": "2"}}},
    }
    item = Item(DynamoType({"S": "file"}), None, attrs)
    before = item.to_json()
    twin = copied(item)
    assert twin is not item and twin.to_json() == before and twin.hash_key == item.hash_key
    item.attrs["instances"].value[0].value["box"].value.append(DynamoType({"N": "3"}))
    item.attrs["counts"].value["car"] = DynamoType({"N": "9"})
    item.attrs["ss"].value.append("c")
    item.attrs["n"] = DynamoType({"N": "7"})
    assert twin.to_json() == before
    assert copied({"not": "an item"}) == {"not": "an item"}


def test_state_data_copied_through_marshal_is_whole_separate_and_anything_else_deep_copied():
    """The engine's copies of a state's data: JSON-like data through marshal, every kind of value it holds,
    nothing shared with the original; what marshal refuses (a Decimal, a dict subclass) is deep-copied."""
    from collections import OrderedDict
    from decimal import Decimal

    from moto.stepfunctions.parser.asl.eval import states

    from infra.local.moto_patches.step_functions import copy_state_data_through_marshal, plain_copy

    copy_state_data_through_marshal()
    data = {"files": [{"id": "f1", "size": 3, "ratio": 0.5, "ok": True, "tags": ["a"], "none": None}], "n": 1}
    twin = plain_copy(data)
    assert twin == data and twin is not data and twin["files"][0] is not data["files"][0]
    data["files"][0]["tags"].append("b")
    data["files"].append({})
    assert twin == {"files": [{"id": "f1", "size": 3, "ratio": 0.5, "ok": True, "tags": ["a"], "none": None}], "n": 1}
    assert type(twin["files"][0]["ok"]) is bool
    odd = {"amount": Decimal("1.5"), "ordered": OrderedDict(a=1)}
    odd_twin = plain_copy(odd)
    assert odd_twin == odd and type(odd_twin["ordered"]) is OrderedDict and odd_twin["ordered"] is not odd["ordered"]
    assert states.copy.deepcopy is plain_copy


def test_string_values_hash_and_compare_as_moto_compares_them_and_other_types_take_moto_s_path():
    """Keys are hashed, compared and sorted on their text; numbers still compare as numbers (``2`` = ``2.0``,
    ``2`` < ``10``), and a string never equals a number or binary value of the same text."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    from infra.local.moto_patches.dynamodb_types import compare_strings_directly

    compare_strings_directly()
    s = lambda text: DynamoType({"S": text})  # noqa: E731
    n = lambda text: DynamoType({"N": text})  # noqa: E731
    assert s("b").__eq__(s("b")) is True and s("b").__ne__(s("b")) is False and hash(s("b")) == hash(s("b"))
    assert s("a") != s("b") and s("1") != n("1") and s("1").__eq__(n("1")) is False and n("1") != s("1")
    assert s("b") != DynamoType({"B": "b"})
    assert n("2") == n("2.0") and hash(n("2")) == hash(n("2.0")) and n("2") < n("10")
    assert [v.value for v in sorted([s("task#10"), s("task#2"), s("a")])] == ["a", "task#10", "task#2"]
    assert s("a") < s("b") <= s("b") and s("c") > s("b") >= s("b")
    assert {s("k"): 1}[s("k")] == 1 and n("3") in {n("3.0")}


def test_update_tree_copies_are_whole_and_separate():
    """The copy a validation changes keeps the tree's parent links and shares nothing with the parsed tree."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from infra.local.moto_patches.dynamodb_updates import _copied_tree

    tree = UpdateExpressionParser.make("SET a = :a, b = if_not_exists(b, :b) REMOVE c")
    copied = _copied_tree(tree)

    def pairs(original, twin):
        assert type(original) is type(twin) and original is not twin
        for child, twin_child in zip(original.children or [], twin.children or [], strict=True):
            if hasattr(child, "children"):
                assert twin_child.parent is twin
                yield from pairs(child, twin_child)
            else:
                assert child == twin_child
        yield original, twin

    assert len(list(pairs(tree, copied))) > 10


def test_utc_iso_timestamps_read_as_botocore_reads_them_and_others_take_its_parser():
    from botocore.utils import parse_timestamp, parse_to_aware_datetime

    from infra.local.moto_patches.timestamps import utc_iso_first

    fast, fast_aware = utc_iso_first(parse_timestamp), utc_iso_first(parse_to_aware_datetime)
    texts = ("2026-01-31T12:00:00.000Z", "2026-01-31T12:00:00Z", "2026-01-31T23:59:59.123456+00:00")
    for text in (*texts, "Sat, 31 Jan 2026 12:00:00 GMT"):
        assert fast(text) == parse_timestamp(text) and fast(text).utcoffset() == parse_timestamp(text).utcoffset()
        assert repr(fast_aware(text)) == repr(parse_to_aware_datetime(text))
    for other in ("2026-01-31T12:00:00+01:00", "2026-01-31", 1_769_860_800, "31 Jan 2026 12:00:00 GMT"):
        assert repr(fast(other)) == repr(parse_timestamp(other))


def test_s3_listings_carry_the_same_times_with_the_fast_timestamps(shared_moto):
    import boto3

    from infra.local import moto_patches

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="times")
    s3.put_object(Bucket="times", Key="a", Body=b"1")
    before = s3.list_objects_v2(Bucket="times")["Contents"][0]["LastModified"]
    moto_patches.fast_utc_timestamps()
    after = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="times")["Contents"][0]
    assert after["LastModified"] == before and after["LastModified"].utcoffset().total_seconds() == 0


def test_a_projection_of_top_level_attributes_answers_what_moto_answered_and_nested_paths_still_work():
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from infra.local import moto_patches

    attrs = {
        "PK": {"S": "file#1"},
        "status": {"S": "ready"},
        "label_counts": {"M": {"car": {"N": "2"}}},
        "current_instances": {"L": [{"M": {"name": {"S": "car"}, "x": {"N": "3"}}}]},
    }
    item = Item(hash_key=DynamoType({"S": "file#1"}), range_key=None, attrs=attrs)
    wanted = [["status"], ["label_counts"], ["missing"]]
    before = item.project(wanted).to_json()
    moto_patches.project_top_level_attributes()
    projected = item.project(wanted)
    assert (
        projected.to_json()
        == before
        == {"Attributes": {"status": {"S": "ready"}, "label_counts": attrs["label_counts"]}}
    )
    projected.attrs["label_counts"].value["car"] = DynamoType({"N": "9"})  # a copy: the stored item is unchanged
    assert item.attrs["label_counts"].value["car"] == DynamoType({"N": "2"})
    nested = item.project([["label_counts", "car"], ["status"]]).to_json()  # moto's own projection
    assert nested == {"Attributes": {"status": {"S": "ready"}, "label_counts": {"M": {"car": {"N": "2"}}}}}


def test_a_frozen_item_is_projected_by_sharing_its_values_and_answers_the_same():
    """What a read decoded is never changed again: its projection (a page of the workflow's queue asks for a few
    attributes of each task) shares the values instead of copying them and re-measuring the item each time."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from infra.local import moto_patches
    from infra.local.moto_patches.dynamodb_locking import freeze, frozen

    attrs = {
        "PK": {"S": "job#1"},
        "status": {"S": "available"},
        "claim_seq": {"N": "3"},
        "task_token": {"S": "t" * 600},
    }
    item = Item(hash_key=DynamoType({"S": "job#1"}), range_key=DynamoType({"S": "task#1"}), attrs=attrs)
    wanted = [["status"], ["claim_seq"], ["missing"]]
    before = item.project(wanted).to_json()
    moto_patches.project_top_level_attributes()
    projected = freeze(item).project(wanted)
    assert projected.to_json() == before == {"Attributes": {"status": {"S": "available"}, "claim_seq": {"N": "3"}}}
    assert projected.attrs["claim_seq"] is item.attrs["claim_seq"]  # shared, not copied
    assert frozen(projected) and (projected.hash_key, projected.range_key) == (item.hash_key, item.range_key)


def _client_of(service: str, endpoint: str):
    """A boto3 client of ``service`` at ``endpoint`` with the tests' fixed credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _key_table(name: str, sort_type: str = "S", *, index_sort_type: str | None = None):
    """A table keyed ``pk`` + ``sk``; with ``index_sort_type``, also the global index ``by-g`` (``g`` + ``gs``)."""
    import boto3

    attributes = {"pk": "S", "sk": sort_type} | ({"g": "S", "gs": index_sort_type} if index_sort_type else {})
    indexes = [
        {
            "IndexName": "by-g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": kind} for a, kind in attributes.items()],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        **({"GlobalSecondaryIndexes": indexes} if index_sort_type else {}),
    )
    return dynamodb


def _query_all(dynamodb, table: str, **query) -> tuple[list, int]:
    """Every item a query answers, page after page, and how many requests it took."""
    items, requests, start = [], 0, None
    while True:
        page = dynamodb.query(TableName=table, **query, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        requests += 1
        start = page.get("LastEvaluatedKey")
        if not start:
            return items, requests


def _sort_key_conditions(name: str, *, low: str, high: str, equal: str, prefix: str) -> dict:
    """Each sort key condition a key query can add (``:a`` = ``low``, ``:b`` = ``high``, ``:c`` = ``equal``,
    ``:p`` = ``prefix``), with the Python test of a string sort key it stands for."""
    return {
        "": lambda value: True,
        f" AND {name} < :a": lambda value: value < low,
        f" AND {name} <= :a": lambda value: value <= low,
        f" AND {name} > :a": lambda value: value > low,
        f" AND {name} >= :a": lambda value: value >= low,
        f" AND {name} = :c": lambda value: value == equal,
        f" AND {name} BETWEEN :a AND :b": lambda value: low <= value <= high,
        f" AND begins_with({name}, :p)": lambda value: value.startswith(prefix),
    }


def test_limited_key_queries_answer_what_the_whole_partition_answers_through_writes(shared_moto):
    """Paged key queries (each comparison, both directions, a filter) over a partition that writes and deletes
    keep changing answer the items and pages a plain reading of the sorted partition gives."""
    import random

    rng = random.Random(7)
    dynamodb = _key_table("windows")
    held: dict[str, int] = {}

    def write(count: int) -> None:
        for _ in range(count):
            sk = f"{rng.randrange(10_000):05d}#{rng.choice('ab')}"
            held[sk] = rng.randrange(3)
            item = {"pk": {"S": "p"}, "sk": {"S": sk}, "n": {"N": str(held[sk])}}
            dynamodb.put_item(TableName="windows", Item=item)
        dynamodb.put_item(TableName="windows", Item={"pk": {"S": "other"}, "sk": {"S": "00001#a"}})
        for sk in rng.sample(sorted(held), count // 5):
            dynamodb.delete_item(TableName="windows", Key={"pk": {"S": "p"}, "sk": {"S": sk}})
            del held[sk]

    conditions = _sort_key_conditions("sk", low="05000", high="07000", equal="03000#a", prefix="04")
    for _ in range(2):
        write(60)
        dynamodb.put_item(TableName="windows", Item={"pk": {"S": "p"}, "sk": {"S": "03000#a"}, "n": {"N": "1"}})
        held["03000#a"] = 1
        for condition, meets in conditions.items():
            for forward in (True, False):
                for limit in (4, 100, None):
                    for filtered in (False, True):
                        values = {":pk": {"S": "p"}, ":a": {"S": "05000"}, ":b": {"S": "07000"}}
                        values |= {":c": {"S": "03000#a"}, ":p": {"S": "04"}, ":one": {"N": "1"}}
                        used = {name: values[name] for name in values if name in condition + " :pk"}
                        query = {
                            "KeyConditionExpression": "pk = :pk" + condition,
                            "ExpressionAttributeValues": used | ({":one": values[":one"]} if filtered else {}),
                            "ScanIndexForward": forward,
                            **({"Limit": limit} if limit else {}),
                            **({"FilterExpression": "n = :one"} if filtered else {}),
                        }
                        answered, requests = _query_all(dynamodb, "windows", **query)
                        read = sorted((sk for sk in held if meets(sk)), reverse=not forward)
                        wanted = [sk for sk in read if not filtered or held[sk] == 1]
                        assert [item["sk"]["S"] for item in answered] == wanted, (condition, forward, limit)
                        if limit:  # a page per Limit items read (moto: no LastEvaluatedKey when none is left)
                            assert requests == max(1, -(-len(read) // limit)), (condition, forward, limit)


def _index_table(name: str, sort_type: str = "S"):
    return _key_table(name, index_sort_type=sort_type)


def test_limited_index_queries_answer_in_the_index_s_order_through_writes(shared_moto):
    """Paged index queries (each comparison, both directions, a filter) over an index partition that puts,
    updates moving an item's index sort key or partition, removals of the index sort key and deletes keep
    changing answer what the index holds in its order: its sort key, then the table's keys (ties are many)."""
    import random

    rng = random.Random(11)
    dynamodb = _index_table("index-windows")
    held: dict[tuple[str, str], dict[str, str]] = {}  # (pk, sk) -> {"g":, "gs":?, "n":}

    def item_of(key: tuple[str, str], attrs: dict[str, str]) -> dict:
        return {"pk": {"S": key[0]}, "sk": {"S": key[1]}} | {
            name: ({"N": value} if name == "n" else {"S": value}) for name, value in attrs.items()
        }

    def write(count: int) -> None:
        for _ in range(count):
            key = (rng.choice("pq"), f"{rng.randrange(1_000):04d}")
            attrs = {"g": rng.choice("ab"), "gs": f"{rng.randrange(40):02d}", "n": str(rng.randrange(3))}
            held[key] = attrs
            dynamodb.put_item(TableName="index-windows", Item=item_of(key, attrs))
        for key in rng.sample(sorted(held), count // 4):  # a claim: the item moves in the index
            held[key] |= {"gs": f"{rng.randrange(40):02d}", "g": rng.choice("ab")}
            dynamodb.update_item(
                TableName="index-windows",
                Key=item_of(key, {}),
                UpdateExpression="SET gs = :gs, g = :g",
                ExpressionAttributeValues={":gs": {"S": held[key]["gs"]}, ":g": {"S": held[key]["g"]}},
            )
        for key in rng.sample(sorted(held), count // 10):  # out of the index, still in the table
            held[key].pop("gs", None)
            dynamodb.update_item(TableName="index-windows", Key=item_of(key, {}), UpdateExpression="REMOVE gs")
        for key in rng.sample(sorted(held), count // 8):
            dynamodb.delete_item(TableName="index-windows", Key=item_of(key, {}))
            del held[key]

    conditions = _sort_key_conditions("gs", low="20", high="30", equal="20", prefix="1")
    for _ in range(3):
        write(80)
        for condition, meets in conditions.items():
            for forward in (True, False):
                for limit in (3, 50, None):
                    for filtered in (False, True):
                        values = {":g": {"S": "a"}, ":a": {"S": "20"}, ":b": {"S": "30"}, ":c": {"S": "20"}}
                        values |= {":p": {"S": "1"}}
                        used = {name: values[name] for name in values if name in condition + " :g"}
                        query = {
                            "IndexName": "by-g",
                            "KeyConditionExpression": "g = :g" + condition,
                            "ExpressionAttributeValues": used | ({":one": {"N": "1"}} if filtered else {}),
                            "ScanIndexForward": forward,
                            **({"Limit": limit} if limit else {}),
                            **({"FilterExpression": "n = :one"} if filtered else {}),
                        }
                        answered, requests = _query_all(dynamodb, "index-windows", **query)
                        in_index = [(a["gs"], *key) for key, a in held.items() if a["g"] == "a" and "gs" in a]
                        read = sorted((entry for entry in in_index if meets(entry[0])), reverse=not forward)
                        wanted = [e for e in read if not filtered or held[e[1:]]["n"] == "1"]
                        got = [(i["gs"]["S"], i["pk"]["S"], i["sk"]["S"]) for i in answered]
                        assert got == wanted, (condition, forward, limit, filtered)
                        if limit:
                            assert requests == max(1, -(-len(read) // limit)), (condition, forward, limit)


def _count_items_looked_at(monkeypatch) -> list[int]:
    """How many items each query of moto's looks at (what ``Table.all_items`` hands it), in order."""
    from moto.dynamodb.models.table import Table

    looked_at: list[int] = []
    every_item = Table.all_items

    def counted(self):
        items = every_item(self)
        looked_at.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counted)
    return looked_at


def test_a_limited_key_query_looks_at_its_page_not_the_whole_partition(shared_moto, monkeypatch):
    """A dataset's listing asks a query per membership shard for each page: each looked at every item of its
    shard before the cursor, so a page cost grew with the dataset."""

    dynamodb = _key_table("looked-at", sort_type="N")
    for start in range(0, 3000, 25):
        requests = [{"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"N": str(n)}}}} for n in range(start, start + 25)]
        dynamodb.batch_write_item(RequestItems={"looked-at": requests})
    looked_at = _count_items_looked_at(monkeypatch)
    page = dynamodb.query(
        TableName="looked-at",
        KeyConditionExpression="pk = :pk AND sk < :after",
        ExpressionAttributeValues={":pk": {"S": "p"}, ":after": {"N": "2500"}},
        ScanIndexForward=False,
        Limit=10,
    )
    assert [int(item["sk"]["N"]) for item in page["Items"]] == list(range(2499, 2489, -1))
    assert page["LastEvaluatedKey"]["sk"] == {"N": "2490"}
    assert looked_at == [11]


def test_a_limited_index_query_looks_at_its_page_not_the_whole_index_partition(shared_moto, monkeypatch):
    """The workflow's queue of open tasks is one index partition per job, read at every task handed out: each
    read sorted every task of the job."""
    dynamodb = _index_table("index-looked-at", sort_type="N")
    for start in range(0, 2000, 25):
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": f"t{n}"}, "sk": {"S": "x"}, "g": {"S": "q"}, "gs": {"N": str(n)}}}}
            for n in range(start, start + 25)
        ]
        dynamodb.batch_write_item(RequestItems={"index-looked-at": requests})
    query = {
        "TableName": "index-looked-at",
        "IndexName": "by-g",
        "KeyConditionExpression": "g = :g AND gs < :upto",
        "ExpressionAttributeValues": {":g": {"S": "q"}, ":upto": {"N": "1500"}},
        "Limit": 10,
    }
    dynamodb.query(**query)  # the first read of the partition orders it
    looked_at = _count_items_looked_at(monkeypatch)
    after_7 = {"g": {"S": "q"}, "gs": {"N": "7"}, "pk": {"S": "t7"}, "sk": {"S": "x"}}
    page = dynamodb.query(**query, ExclusiveStartKey=after_7)
    assert [int(item["gs"]["N"]) for item in page["Items"]] == list(range(8, 18))
    assert page["LastEvaluatedKey"]["gs"] == {"N": "17"}
    assert looked_at == [11]


def _live(kind: type) -> int:
    import gc

    gc.collect()
    return sum(1 for found in gc.get_objects() if type(found) is kind)


def test_reads_and_updates_leave_no_item_behind_nor_deletes_an_object(shared_moto):
    """moto listed every model instance it made (for its dashboard): each item a query, a GetItem or an update
    copied stayed alive, so a running platform grew with every request; and each deleted or overwritten S3
    object (a dropped upload once ingested, an index delta once compacted)."""
    import boto3
    from moto.dynamodb.models.dynamo_type import Item
    from moto.s3.models import FakeKey

    from infra.local import moto_patches

    moto_patches.keep_no_model_instances()
    dynamodb = _key_table("reads")
    for n in range(20):
        dynamodb.put_item(TableName="reads", Item={"pk": {"S": "p"}, "sk": {"S": f"{n:02d}"}, "n": {"N": "0"}})
    key = {"pk": {"S": "p"}, "sk": {"S": "00"}}
    dynamodb.query(TableName="reads", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    before = _live(Item)
    for _ in range(50):
        dynamodb.get_item(TableName="reads", Key=key)
        dynamodb.update_item(
            TableName="reads",
            Key=key,
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        dynamodb.query(
            TableName="reads", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
        )
    assert _live(Item) - before < 20  # 50 rounds copied 1,100 items
    assert dynamodb.get_item(TableName="reads", Key=key)["Item"]["n"] == {"N": "50"}

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="deletes")
    before = _live(FakeKey)
    for n in range(50):
        s3.put_object(Bucket="deletes", Key="kept", Body=f"version {n}".encode())
        s3.put_object(Bucket="deletes", Key=f"dropped-{n}", Body=b"x")
        s3.delete_object(Bucket="deletes", Key=f"dropped-{n}")
    assert _live(FakeKey) - before <= 1  # 100 were made and let go
    assert s3.get_object(Bucket="deletes", Key="kept")["Body"].read() == b"version 49"


def test_items_kept_encoded_answer_what_they_were_given_through_updates_transactions_and_deletes(shared_moto):
    """A table with a sort key keeps its items as bytes; every attribute type reads back as written, and
    moto's in-place updates (nested paths, sets, counters, an update creating its item), a cancelled
    transaction and deletes all land in the stored bytes."""
    from botocore.exceptions import ClientError
    from moto.dynamodb.models import dynamodb_backends

    from infra.local.moto_patches.dynamodb_compact import Partitions

    dynamodb = _key_table("encoded")
    item = {
        "pk": {"S": "p"},
        "sk": {"S": "a"},
        "n": {"N": "1.50"},
        "flag": {"BOOL": False},
        "none": {"NULL": True},
        "bin": {"B": b"\x00\xff"},
        "bins": {"BS": [b"\x01", b"\x02"]},
        "strs": {"SS": ["x", "y"]},
        "nums": {"NS": ["1", "2"]},
        "doc": {"M": {"list": {"L": [{"S": "q"}, {"N": "2"}, {"M": {"deep": {"S": "d"}}}]}, "empty": {"M": {}}}},
        "text": {"S": "é" * 300},
    }
    dynamodb.put_item(TableName="encoded", Item=item)
    key = {"pk": {"S": "p"}, "sk": {"S": "a"}}
    assert dynamodb.get_item(TableName="encoded", Key=key)["Item"] == item
    stored = dynamodb_backends["123456789012"]["us-east-1"].tables["encoded"].items
    assert isinstance(stored, Partitions)
    assert all(type(blob) is bytes for partition in stored.values() for blob in partition.blobs.values())

    dynamodb.update_item(
        TableName="encoded",
        Key=key,
        UpdateExpression="SET doc.#l[2].deep = :v, n = n + :one ADD strs :s REMOVE flag",
        ExpressionAttributeNames={"#l": "list"},
        ExpressionAttributeValues={":v": {"S": "changed"}, ":one": {"N": "1"}, ":s": {"SS": ["z"]}},
    )
    dynamodb.update_item(  # creates its item, then sets on it
        TableName="encoded",
        Key={"pk": {"S": "p"}, "sk": {"S": "b"}},
        UpdateExpression="SET c = if_not_exists(c, :zero) + :one",
        ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}},
    )
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "encoded",
                        "Key": key,
                        "UpdateExpression": "SET n = :big",
                        "ExpressionAttributeValues": {":big": {"N": "99"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "encoded",
                        "Key": {"pk": {"S": "p"}, "sk": {"S": "b"}},
                        "ConditionExpression": "c = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
            ]
        )
    changed = dynamodb.get_item(TableName="encoded", Key=key)["Item"]
    assert changed["doc"]["M"]["list"]["L"][2] == {"M": {"deep": {"S": "changed"}}}
    assert float(changed["n"]["N"]) == 2.5 and "flag" not in changed
    assert sorted(changed["strs"]["SS"]) == ["x", "y", "z"]
    page = dynamodb.query(
        TableName="encoded", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )
    assert [found["sk"]["S"] for found in page["Items"]] == ["a", "b"]
    assert page["Items"][1]["c"] == {"N": "1"}

    dynamodb.delete_item(TableName="encoded", Key=key)
    assert "Item" not in dynamodb.get_item(TableName="encoded", Key=key)
    assert dynamodb.scan(TableName="encoded")["Count"] == 1


def test_items_a_query_answered_stay_as_answered_through_later_writes_and_sizes_follow_the_writes(shared_moto):
    """A query answers the items reads keep decoded without copying them: a write decodes an item of its own, so
    what an earlier query answered (nested maps and lists included) is never changed under it, the next query
    sees the write, and the 400 KB item limit is judged on the item as written, not on a size kept from before."""
    from botocore.exceptions import ClientError
    from moto.dynamodb.models import dynamodb_backends

    dynamodb = _key_table("frozen")
    dynamodb.put_item(
        TableName="frozen",
        Item={"pk": {"S": "p"}, "sk": {"S": "a"}, "doc": {"M": {"tags": {"L": [{"S": "one"}]}}}, "n": {"N": "1"}},
    )
    backend = dynamodb_backends["123456789012"]["us-east-1"]

    def answered() -> list:
        return backend.query("frozen", {"S": "p"}, None, [], None, None, True, None)[0]

    before = answered()
    assert [item.to_json()["Attributes"]["n"] for item in answered()] == [{"N": "1"}]
    dynamodb.update_item(
        TableName="frozen",
        Key={"pk": {"S": "p"}, "sk": {"S": "a"}},
        UpdateExpression="SET doc.tags[0] = :t, n = n + :one, big = :big",
        ExpressionAttributeValues={":t": {"S": "two"}, ":one": {"N": "1"}, ":big": {"S": "x" * 300_000}},
    )
    assert before[0].to_json()["Attributes"]["doc"] == {"M": {"tags": {"L": [{"S": "one"}]}}}
    assert before[0].to_json()["Attributes"]["n"] == {"N": "1"}
    after = answered()[0].to_json()["Attributes"]
    assert after["doc"] == {"M": {"tags": {"L": [{"S": "two"}]}}} and after["n"] == {"N": "2"}
    assert answered()[0].size() > 300_000  # measured on the item as written
    with pytest.raises(ClientError, match="Item size"):  # 300 KB more makes 600 KB: over the limit
        dynamodb.update_item(
            TableName="frozen",
            Key={"pk": {"S": "p"}, "sk": {"S": "a"}},
            UpdateExpression="SET more = :big",
            ExpressionAttributeValues={":big": {"S": "y" * 300_000}},
        )


def test_an_update_is_judged_on_the_item_as_written_and_one_over_the_limit_changes_nothing(shared_moto):
    """DynamoDB's 400 KB limit on the item an update leaves: replacing a 300 KB attribute with another is
    accepted (moto counted the replaced one too), passing the limit is refused with moto's error, and the
    refused update's earlier actions are not applied either."""
    from botocore.exceptions import ClientError

    from infra.local import moto_patches

    moto_patches.measure_updated_items_once()
    dynamodb = _key_table("measured")
    key = {"pk": {"S": "p"}, "sk": {"S": "a"}}
    dynamodb.put_item(TableName="measured", Item={**key, "n": {"N": "1"}, "doc": {"M": {"tags": {"L": []}}}})
    for fill in "xy":
        dynamodb.update_item(
            TableName="measured",
            Key=key,
            UpdateExpression="SET big = :big, n = n + :one",
            ExpressionAttributeValues={":big": {"S": fill * 300_000}, ":one": {"N": "1"}},
        )
    before = dynamodb.get_item(TableName="measured", Key=key)["Item"]
    assert before["big"]["S"][0] == "y" and before["n"] == {"N": "3"}
    values = {":big": {"S": "z" * 200_000}, ":one": {"N": "1"}}
    for expression, more in [
        ("SET n = n + :one, doc.tags[0] = :t, more = :big", {":t": {"S": "t"}}),
        ("SET n = n + :one, doc.more = :big", {}),
    ]:
        with pytest.raises(ClientError, match="Item size"):
            dynamodb.update_item(
                TableName="measured", Key=key, UpdateExpression=expression, ExpressionAttributeValues=values | more
            )
        assert dynamodb.get_item(TableName="measured", Key=key)["Item"] == before


def test_concurrent_updates_of_an_encoded_item_lose_no_increment(shared_moto):
    """Each update decodes the item, changes it and stores it again under the DynamoDB lock: eight threads
    adding to one counter end with every addition counted."""
    from concurrent.futures import ThreadPoolExecutor

    dynamodb = _key_table("counted")
    key = {"pk": {"S": "p"}, "sk": {"S": "counter"}}

    def add(_: int) -> None:
        dynamodb.update_item(
            TableName="counted", Key=key, UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}}
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(200)))
    assert dynamodb.get_item(TableName="counted", Key=key)["Item"]["n"] == {"N": "200"}


_ITEM_MEMORY = """
import gc, json, sys, tracemalloc
from moto.dynamodb.models import DynamoDBBackend
from infra.local import moto_patches
if sys.argv[1] == "encoded":
    moto_patches.install()
    from infra.local.moto_patches import dynamodb_compact
    dynamodb_compact._DECODED_ITEMS = 0  # the table's own cost: the items kept decoded for reads are a bounded cache
backend = DynamoDBBackend("us-east-1", "123456789012")
backend.create_table("t", schema=[{"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"}], throughput=None,
    attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    global_indexes=None, indexes=None, streams=None, billing_mode="PAY_PER_REQUEST", sse_specification=None,
    tags=[], deletion_protection_enabled=False, warm_throughput=None)
def item(i):
    attrs = {f"field{n:02d}": {"S": f"value {n} of file {i:07d}"} for n in range(20)}
    attrs["counts"] = {"M": {"car": {"N": str(i % 7)}, "pedestrian": {"N": "2"}}}
    return {"pk": {"S": f"P#bench#F#{i:032x}"}, "sk": {"S": "FILE"}, **attrs}
gc.collect(); tracemalloc.start()
for i in range(2000):
    backend.put_item("t", item(i))
gc.collect()
print(tracemalloc.get_traced_memory()[0] / 2000)
"""


def test_an_encoded_item_costs_a_fraction_of_moto_s_objects():
    """A million recorded files (three items each) fit the emulator only if an item costs well under moto's
    own form: measured in processes of their own (other threads allocate in this one)."""
    import subprocess
    import sys

    def per_item(mode: str) -> float:
        run = subprocess.run(
            [sys.executable, "-c", _ITEM_MEMORY, mode], capture_output=True, text=True, check=True, timeout=120
        )
        return float(run.stdout.split()[-1])

    encoded, plain = per_item("encoded"), per_item("plain")
    assert encoded < 0.4 * plain, (encoded, plain)
    assert encoded < 1100, encoded


def _table_indexed_by_g(dynamodb, name: str) -> None:
    """A table keyed by ``pk``/``sk`` with a global index ``byg`` on ``g``."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byg",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def test_items_put_straight_are_found_by_key_and_index_queries(shared_moto):
    """A restore (and a bench's seed) puts items around the backend; the index maps learn them, whether a query
    built a map before or not, and key queries page over them."""
    import boto3
    from moto.dynamodb.models import dynamodb_backends

    from infra.local.moto_patches.dynamodb_compact import put_straight

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for name in ("straight-built", "straight-new"):
        _table_indexed_by_g(dynamodb, name)

        def by_g(value: str, name: str = name) -> list[str]:
            page = dynamodb.query(
                TableName=name,
                IndexName="byg",
                KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": {"S": value}},
            )
            return sorted(item["sk"]["S"] for item in page["Items"])

        dynamodb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": "000"}, "g": {"S": "even"}})
        if name == "straight-built":
            assert by_g("even") == ["000"]  # the map exists before the items come
        table = dynamodb_backends["123456789012"]["us-east-1"].tables[name]
        put_straight(
            table,
            [
                {"pk": {"S": "p"}, "sk": {"S": f"{n:03d}"}, "g": {"S": "even" if n % 2 == 0 else "odd"}}
                for n in range(1, 9)
            ],
        )
        assert by_g("even") == ["000", "002", "004", "006", "008"], name
        assert by_g("odd") == ["001", "003", "005", "007"], name
        items, requests = _query_all(
            dynamodb, name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}, Limit=3
        )
        assert [item["sk"]["S"] for item in items] == [f"{n:03d}" for n in range(9)] and requests == 3, name
        # a read keeps the item decoded; a straight put of the same key replaces what the next read gets
        key = {"pk": {"S": "p"}, "sk": {"S": "000"}}
        assert dynamodb.get_item(TableName=name, Key=key)["Item"]["g"] == {"S": "even"}
        put_straight(table, [{**key, "g": {"S": "odd"}}])
        assert dynamodb.get_item(TableName=name, Key=key)["Item"]["g"] == {"S": "odd"}
        assert "000" in by_g("odd") and "000" not in by_g("even"), name


def test_a_restore_into_an_empty_table_decodes_none_of_its_items(shared_moto, monkeypatch):
    """A restore puts every saved item straight into a new, empty table: its global index's map is built before
    they come and learns each from its wire form, so no item is decoded (decoding every restored item to
    build the map after them had made a start over 100,000 files twice as long)."""
    import boto3
    from moto.dynamodb.models import dynamodb_backends

    from infra.local.moto_patches import dynamodb_compact

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    _table_indexed_by_g(dynamodb, "straight-restore")
    table = dynamodb_backends["123456789012"]["us-east-1"].tables["straight-restore"]
    assert isinstance(table.items, dynamodb_compact.Partitions)  # kept encoded, as the platform's tables are
    decoded = []
    real = dynamodb_compact.decode
    monkeypatch.setattr(dynamodb_compact, "decode", lambda *args: decoded.append(args) or real(*args))
    dynamodb_compact.put_straight(
        table,
        (
            {"pk": {"S": f"p{n % 7}"}, "sk": {"S": f"{n:04d}"}, "g": {"S": "even" if n % 2 == 0 else "odd"}}
            for n in range(300)
        ),
    )
    assert decoded == []
    page = dynamodb.query(
        TableName="straight-restore",
        IndexName="byg",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "odd"}},
    )
    assert sorted(item["sk"]["S"] for item in page["Items"]) == [f"{n:04d}" for n in range(1, 300, 2)]


def test_a_key_query_without_a_limit_reads_one_megabyte_a_page(shared_moto, monkeypatch):
    """Without a ``Limit`` DynamoDB stops a page at 1 MB; the emulator looks at the items up to that point, not
    at every item after the page's start (a shard of a million-file dataset holds 125,000 memberships), and the
    pages, forward and backward, still hold every item once, in order."""

    dynamodb = _key_table("megabyte", sort_type="N")
    filler = "x" * 2000
    for start in range(0, 1500, 25):
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"N": str(n)}, "f": {"S": filler}}}}
            for n in range(start, start + 25)
        ]
        dynamodb.batch_write_item(RequestItems={"megabyte": requests})
    looked_at = _count_items_looked_at(monkeypatch)
    query = {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "p"}}}
    forward, requests = _query_all(dynamodb, "megabyte", **query)
    assert [int(item["sk"]["N"]) for item in forward] == list(range(1500)) and requests == 4
    assert max(looked_at) < 600, looked_at  # a page holds about 490 items of 2 KB
    backward, _ = _query_all(dynamodb, "megabyte", **query, ScanIndexForward=False)
    assert [int(item["sk"]["N"]) for item in backward] == list(range(1499, -1, -1))


def test_dynamodb_requests_sent_straight_to_moto_s_handler_get_the_answers_its_flask_view_gives(
    moto_endpoint, serve_wsgi, new_moto_app
):
    """The same DynamoDB calls through ``DirectDynamoDB`` and through moto's Flask app, each on a table of its
    own in the same moto: the same answers (items, binary and set attributes, pages, counts, transactions),
    the same refusals (condition failures with the old item, validation errors, a missing table, a cancelled
    transaction), the same status and headers."""
    import urllib3
    from botocore.exceptions import ClientError

    from infra.local.moto_patches import DirectDynamoDB

    def client(endpoint: str):
        return _client_of("dynamodb", endpoint)

    def calls(dynamodb, table: str) -> list:
        """Each call's answer (its ResponseMetadata left out) or refusal, the table's name made neutral."""
        key = {"pk": {"S": "p"}, "sk": {"S": "1"}}
        item = key | {"b": {"B": b"\x00\xffbytes"}, "ss": {"SS": ["x", "y"]}, "n": {"N": "1.50"}, "m": {"M": {}}}
        steps = [
            lambda: dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            )["TableDescription"]["KeySchema"],
            lambda: dynamodb.put_item(TableName=table, Item=item, ReturnValues="ALL_OLD"),
            lambda: dynamodb.get_item(TableName=table, Key=key),
            lambda: dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET n = n + :one ADD ss :z REMOVE m",
                ExpressionAttributeValues={":one": {"N": "1"}, ":z": {"SS": ["z"]}},
                ReturnValues="ALL_NEW",
            ),
            lambda: dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET n = :v",
                ConditionExpression="n = :v",
                ExpressionAttributeValues={":v": {"N": "9"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
            lambda: dynamodb.update_item(
                TableName=table, Key=key, UpdateExpression="SET pk = :v", ExpressionAttributeValues={":v": {"S": "q"}}
            ),
            lambda: dynamodb.batch_write_item(
                RequestItems={
                    table: [{"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"S": str(i)}}}} for i in range(2, 9)]
                }
            ),
            lambda: dynamodb.query(
                TableName=table,
                KeyConditionExpression="pk = :p AND sk > :s",
                ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"S": "3"}},
                Limit=2,
                ScanIndexForward=False,
            ),
            lambda: dynamodb.query(
                TableName=table,
                KeyConditionExpression="pk = :p",
                Select="COUNT",
                ExpressionAttributeValues={":p": {"S": "p"}},
            ),
            lambda: dynamodb.batch_get_item(
                RequestItems={table: {"Keys": [key, {"pk": {"S": "p"}, "sk": {"S": "5"}}]}}
            ),
            lambda: dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": key,
                            "UpdateExpression": "SET t = :t",
                            "ExpressionAttributeValues": {":t": {"S": "done"}},
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": table,
                            "Key": {"pk": {"S": "p"}, "sk": {"S": "2"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            ),
            lambda: dynamodb.get_item(TableName=f"{table}-missing", Key=key),
            lambda: dynamodb.scan(TableName=table, FilterExpression="attribute_exists(b)"),
            lambda: dynamodb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD"),
        ]
        answers = []
        for step in steps:
            try:
                answer = step()
                if isinstance(answer, dict):
                    answer.pop("ResponseMetadata", None)
            except ClientError as exc:
                answer = (exc.response["Error"], exc.response.get("Item"), exc.response.get("CancellationReasons"))
            answers.append(json.loads(json.dumps(answer, default=repr).replace(table, "TABLE")))
        return answers

    with serve_wsgi(DirectDynamoDB(new_moto_app())) as direct:
        assert calls(client(direct), "lane-direct") == calls(client(moto_endpoint), "lane-flask")
        http = urllib3.PoolManager()
        headers = {
            "X-Amz-Target": "DynamoDB_20120810.GetItem",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261205/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        }
        body = json.dumps({"TableName": "TABLE", "Key": {"pk": {"S": "p"}, "sk": {"S": "2"}}})
        raw = [
            http.request("POST", f"{endpoint}/", body=body.replace("TABLE", table), headers=headers)
            for endpoint, table in ((direct, "lane-direct"), (moto_endpoint, "lane-flask"))
        ]
        assert raw[0].status == raw[1].status == 200
        assert raw[0].data == raw[1].data
        differ = {"x-amzn-requestid", "date", "access-control-allow-origin"}  # ids and clocks; CORS: no Origin sent
        assert {k.lower(): v for k, v in raw[0].headers.items() if k.lower() not in differ} == {
            k.lower(): v for k, v in raw[1].headers.items() if k.lower() not in differ
        }


def test_s3_requests_sent_straight_to_moto_s_views_get_the_answers_its_flask_app_gives(
    moto_endpoint, serve_wsgi, new_moto_app
):
    """The same S3 calls through ``DirectS3`` and through moto's Flask app, each on a bucket of its own in the
    same moto: the same answers (bodies, ranges, metadata, copies, listings, batch deletes, multipart uploads),
    the same refusals (a missing key, a missing bucket), the same status and headers; none of them reached the
    Flask app behind ``DirectS3``, and a presigned or browser request still does."""
    import urllib3
    from botocore.exceptions import ClientError

    from infra.local.moto_patches import DirectS3

    def client(endpoint: str):
        return _client_of("s3", endpoint)

    def calls(s3, bucket: str) -> list:
        body = bytes(range(256)) * 40
        part = b"p" * (5 * 1024 * 1024)
        key = "demo/a dir/ünï code+x.jpg"

        def multipart():
            upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
            etag = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=1, Body=part)["ETag"]
            parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
            s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload, MultipartUpload=parts)
            return s3.head_object(Bucket=bucket, Key="big.bin")

        steps = [
            lambda: s3.create_bucket(Bucket=bucket),
            lambda: s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType="image/jpeg", Metadata={"with_underscore": "1"}
            ),
            lambda: s3.head_object(Bucket=bucket, Key=key),
            lambda: s3.get_object(Bucket=bucket, Key=key),
            lambda: s3.get_object(Bucket=bucket, Key=key, Range="bytes=10-19"),
            lambda: s3.copy_object(Bucket=bucket, Key="copy.jpg", CopySource={"Bucket": bucket, "Key": key}),
            lambda: s3.get_object(Bucket=bucket, Key="missing"),
            lambda: s3.head_object(Bucket=bucket, Key="missing"),
            lambda: s3.get_object(Bucket=f"{bucket}-missing", Key=key),
            lambda: s3.list_objects_v2(Bucket=bucket, Prefix="demo/"),
            multipart,
            lambda: s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "copy.jpg"}, {"Key": "none"}]}),
            lambda: s3.delete_object(Bucket=bucket, Key=key),
            lambda: s3.list_objects_v2(Bucket=bucket),
        ]
        answers = []
        for step in steps:
            try:
                answer = step()
                answer.pop("ResponseMetadata", None)
                if "Body" in answer:
                    answer["Body"] = answer["Body"].read()
            except ClientError as exc:
                answer = exc.response["Error"]
            answers.append(neutral(answer, bucket))
        return answers

    def neutral(value, bucket: str):
        """Times and ids left out (each lane made its objects at its own moment), the bucket's name made neutral."""
        if isinstance(value, dict):
            left_out = {"LastModified", "RequestId", "HostId", "UploadId", "Location"}
            return {k: neutral(v, bucket) for k, v in value.items() if k not in left_out}
        if isinstance(value, list):
            return [neutral(v, bucket) for v in value]
        return value.replace(bucket, "BUCKET") if isinstance(value, str) else value

    reached_flask: list[str] = []
    moto_app = new_moto_app()

    def flask_behind(environ, start_response):
        reached_flask.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return moto_app(environ, start_response)

    with serve_wsgi(DirectS3(flask_behind)) as direct:
        assert calls(client(direct), "lane-direct") == calls(client(moto_endpoint), "lane-flask")
        assert reached_flask == []
        lanes = ((client(direct), "lane-direct"), (client(moto_endpoint), "lane-flask"))
        for s3, bucket in lanes:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentType="text/plain")
        # ids and clocks; CORS: moto's Flask app allows every origin on every answer, but only a browser's
        # request (which carries an Origin, and goes the Flask way) reads it
        differ = {"x-amzn-requestid", "date", "last-modified", "access-control-allow-origin"}
        for method in ("get_object", "head_object"):
            direct_headers, flask_headers = (
                {
                    k: v
                    for k, v in getattr(s3, method)(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"].items()
                    if k not in differ
                }
                for s3, bucket in lanes
            )
            assert direct_headers == flask_headers
        assert reached_flask == []
        http = urllib3.PoolManager()
        presigned = lanes[0][0].generate_presigned_url("get_object", {"Bucket": "lane-direct", "Key": "k"})
        assert http.request("GET", presigned).data == b"x" and reached_flask == ["GET /lane-direct/k"]
        browser = http.request("GET", presigned, headers={"Origin": "http://localhost:3000"})
        assert browser.data == b"x" and len(reached_flask) == 2


def test_a_request_answered_straight_is_freed_at_once_not_left_to_the_collector(serve_wsgi, new_moto_app):
    """werkzeug keeps a request in its environ (a cycle): unless it is broken when the answer is made, as Flask
    does, each request and the body it read wait for a full collection (a 5 MB upload's body included)."""
    import gc

    from moto.moto_server.werkzeug_app import BackendRequest

    from infra.local.moto_patches import DirectDynamoDB, DirectS3

    with serve_wsgi(DirectS3(DirectDynamoDB(new_moto_app()))) as direct:
        s3, dynamodb = _client_of("s3", direct), _client_of("dynamodb", direct)
        s3.create_bucket(Bucket="freed-at-once")
        gc.collect()
        gc.disable()
        try:
            s3.put_object(Bucket="freed-at-once", Key="big", Body=b"x" * (5 * 1024 * 1024))
            assert len(s3.get_object(Bucket="freed-at-once", Key="big")["Body"].read()) == 5 * 1024 * 1024
            dynamodb.list_tables()
            alive = [o for o in gc.get_objects() if isinstance(o, BackendRequest)]
        finally:
            gc.enable()
    assert alive == []


def test_errors_are_answered_as_before_from_one_table_of_error_shapes_built_once(shared_moto, monkeypatch):
    import boto3
    from botocore.exceptions import ClientError
    from moto.core import errors

    from infra.local.moto_patches.request_path import error_shapes_looked_up_once

    error_shapes_looked_up_once()
    built = []
    create = errors.ErrorLookupFactory._create_error_lut
    monkeypatch.setattr(
        errors.ErrorLookupFactory, "_create_error_lut", staticmethod(lambda model: built.append(model) or create(model))
    )
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="errors-once")
    for _ in range(3):
        with pytest.raises(ClientError) as refused:
            s3.get_object(Bucket="errors-once", Key="none")
        assert refused.value.response["Error"]["Code"] == "NoSuchKey"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert len(built) <= 1


def test_a_transaction_checks_its_conditions_and_writes_under_the_dynamodb_lock(shared_moto, monkeypatch):
    """Two registrations of one file at once both passed ``attribute_not_exists`` when the transaction ran
    outside the lock (the patch that replaces moto's method had dropped the lock that wrapped it)."""
    from moto.dynamodb.models import DynamoDBBackend

    from infra.local.moto_patches.dynamodb_locking import dynamodb_lock

    dynamodb = _key_table("transactions-locked")
    held: list[bool] = []
    read = DynamoDBBackend.get_item

    def get_item(self, *args, **kwargs):
        held.append(dynamodb_lock._is_owned())  # noqa: SLF001 - RLock's own check of this thread
        return read(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "get_item", get_item)
    item = {"pk": {"S": "file"}, "sk": {"S": "FILE"}}
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "transactions-locked",
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
    )
    assert held == [True]


def test_queue_attributes_answer_as_before_with_names_converted_once(shared_moto):
    """A queue's attributes, as set and as moto's own conversion names them, through sends and receives."""
    import boto3
    import moto.sqs.models as sqs_models
    from moto.core.utils import camelcase_to_underscores

    from infra.local import moto_patches

    moto_patches.queue_attribute_names_converted_once()
    for name in ["VisibilityTimeout", "RedrivePolicy", "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled"]:
        assert sqs_models.camelcase_to_underscores(name) == camelcase_to_underscores(name)
    sqs = boto3.client("sqs", region_name="us-east-1")
    dead = sqs.create_queue(QueueName="converted-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 2})
    url = sqs.create_queue(QueueName="converted", Attributes={"VisibilityTimeout": "7", "RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["0", "1", "2"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "7"
    assert json.loads(attributes["RedrivePolicy"]) == json.loads(redrive)
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "3"


def test_item_request_bodies_read_as_json_give_moto_s_parameters_and_binary_ones_take_its_parser(
    shared_moto, monkeypatch
):
    """What botocore sends for each item operation, read as JSON, equals what moto's parser makes of it; a
    body with a binary attribute value still takes the parser (base64 to bytes): it reads back as written."""
    import json

    import boto3
    import botocore.session
    from botocore.serialize import create_serializer
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.responses import get_service_model

    from infra.local import moto_patches

    moto_patches.dynamodb_item_requests_read_as_json()
    key = {"pk": {"S": "p"}, "sk": {"S": "a"}}
    item = {**key, "n": {"N": "1.5"}, "m": {"M": {"l": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]}}}}
    update = {
        "TableName": "t",
        "Key": key,
        "UpdateExpression": "SET #s = :s, n = n + :one",
        "ConditionExpression": "attribute_exists(pk) AND #s IN (:a, :b)",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "x"}, ":one": {"N": "1"}, ":a": {"S": "a"}, ":b": {"S": "b"}},
        "ReturnValues": "ALL_NEW",
    }
    requests = {
        "GetItem": {"TableName": "t", "Key": key, "ConsistentRead": True, "ProjectionExpression": "n, m.l[0]"},
        "PutItem": {"TableName": "t", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"},
        "UpdateItem": update,
        "DeleteItem": {"TableName": "t", "Key": key, "ReturnValues": "ALL_OLD"},
        "Query": {
            "TableName": "t",
            "IndexName": "GSI2",
            "KeyConditionExpression": "pk = :p AND sk < :s",
            "ExpressionAttributeValues": {":p": {"S": "p"}, ":s": {"S": "z"}},
            "Limit": 25,
            "ScanIndexForward": False,
            "ExclusiveStartKey": key,
        },
        "Scan": {"TableName": "t", "Segment": 1, "TotalSegments": 4, "Select": "COUNT"},
        "BatchGetItem": {"RequestItems": {"t": {"Keys": [key, key], "ConsistentRead": True}}},
        "BatchWriteItem": {"RequestItems": {"t": [{"PutRequest": {"Item": item}}, {"DeleteRequest": {"Key": key}}]}},
        "TransactGetItems": {"TransactItems": [{"Get": {"TableName": "t", "Key": key}}]},
        "TransactWriteItems": {
            "TransactItems": [
                {"Update": {k: v for k, v in update.items() if k != "ReturnValues"}},
                {"ConditionCheck": {"TableName": "t", "Key": key, "ConditionExpression": "attribute_exists(pk)"}},
            ],
            "ClientRequestToken": "token",
        },
    }
    model = botocore.session.get_session().get_service_model("dynamodb")
    serializer = create_serializer("json")
    parse = PROTOCOL_PARSERS["json"].parse
    service = get_service_model("dynamodb")
    for operation, parameters in requests.items():
        body = serializer.serialize_to_request(parameters, model.operation_model(operation))["body"]
        body = body if isinstance(body, bytes) else body.encode()
        parser = PROTOCOL_PARSERS["json"](service.operation_model(operation), map_type=dict)
        parsed = parser.parse({"method": "POST", "values": {}, "headers": {}, "body": body, "url_path": "/"})
        assert json.loads(body) == parsed, operation

    # through moto's handler: the item operation without a binary value skips the parser, the one with it and
    # a table operation take it (a binary value arrives as bytes)
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.test import EnvironBuilder

    parsed_by_moto = []
    parser_class = PROTOCOL_PARSERS["json"]
    monkeypatch.setattr(parser_class, "parse", lambda self, request: parsed_by_moto.append(1) or parse(self, request))

    def handled(operation: str, parameters: dict) -> dict:
        body = serializer.serialize_to_request(parameters, model.operation_model(operation))["body"]
        environ = EnvironBuilder(
            method="POST",
            path="/",
            data=body,
            headers={"X-Amz-Target": f"DynamoDB_20120810.{operation}", "Content-Type": "application/x-amz-json-1.0"},
        ).get_environ()
        handler = DynamoHandler()
        handler.setup_class(BackendRequest(environ), "http://localhost/", {})
        return handler.params

    blob = bytes(range(256))
    assert handled("UpdateItem", update) == update and parsed_by_moto == []
    assert handled("PutItem", {"TableName": "t", "Item": {**key, "b": {"B": blob}}})["Item"]["b"] == {"B": blob}
    assert handled("DescribeTable", {"TableName": "t"}) == {"TableName": "t"}
    assert len(parsed_by_moto) == 2

    dynamodb = _key_table("binary")
    dynamodb.put_item(TableName="binary", Item={**key, "b": {"B": blob}, "bs": {"BS": [blob[:3], blob[3:9]]}})
    got = dynamodb.get_item(TableName="binary", Key=key)["Item"]
    assert got["b"] == {"B": blob} and sorted(got["bs"]["BS"]) == sorted([blob[:3], blob[3:9]])
    answered = boto3.client("dynamodb", region_name="us-east-1").query(
        TableName="binary", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )
    assert answered["Items"][0]["b"] == {"B": blob}


def test_request_headers_are_walked_once_and_read_as_moto_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The direct request paths give moto's views headers that walk the environ once, whatever number of times
    they are read, and read as moto's own: the same names (user metadata as sent), values, lookups and length."""
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, EnvironHeaders

    from infra.local.moto_patches.request_path import listed_headers

    environ = {
        "REQUEST_METHOD": "PUT",
        "CONTENT_TYPE": "image/jpeg",
        "CONTENT_LENGTH": "12",
        "HTTP_HOST": "127.0.0.1:4566",
        "HTTP_X_AMZ_META_MY_KEY": "underscored",
        "HTTP_X_AMZ_META_PLAIN": "dashed",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/s3/aws4_request",
        PRESERVED_HEADER_NAMES_ENVIRON_KEY: {"HTTP_X_AMZ_META_MY_KEY": "x-amz-meta-my_key"},
    }
    walks: list[int] = []
    walk = EnvironHeaders.__iter__
    monkeypatch.setattr(EnvironHeaders, "__iter__", lambda self: walks.append(1) or walk(self))
    listed, moto_s = listed_headers()(environ), EnvironHeaders(environ)
    assert list(listed.items()) == list(moto_s.items())
    walks.clear()
    for _ in range(3):
        assert dict(listed) == dict(moto_s.items()) and list(listed.keys()) == list(moto_s.keys())
        assert len(listed) == len(moto_s) == 6
    assert "x-amz-meta-my_key" in dict(listed) and listed.get("X-Amz-Meta-Plain") == "dashed"
    assert listed.get("Content-Type") == "image/jpeg" and "Authorization" in listed and "Range" not in listed
    assert len(walks) == 3 * 3  # moto's headers walked the environ at each read, the listed ones not at all
