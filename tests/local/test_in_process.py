"""Calls the platform process makes to its own emulator are answered in-process, and answered the same.

The handlers run in the emulator's process (lambda_runtime); their boto3 calls skip the socket
(infra/local/in_process.py). These tests compare what a client in that process sees with what a
client over HTTP sees, on the requests whose encoding is easiest to get wrong.
"""

import socket

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local.emulator import Emulator

AWKWARD_KEYS = ["plain.jpg", "with space/a b.JPG", "plus+sign/c+d.jpg", "unicodé/ñ.png", "q?x=1&y=2#frag.jpg"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")


def _create_keyed_table(dynamodb, name: str, key: str = "pk") -> None:  # noqa: ANN001 - a boto3 client
    """An on-demand table keyed by one string attribute."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture(scope="module")
def emulator():
    # A session created before the emulator starts has no in-process handler: its calls use the server.
    over_http = _session()
    emu = Emulator(port=_free_port())
    emu.start()
    yield emu, over_http, emu.in_process
    emu.stop()


def test_s3_objects_round_trip_in_process_as_over_http(emulator):
    emu, over_http, dispatch = emulator
    local = _session().client("s3", endpoint_url=emu.endpoint_url)
    remote = over_http.client("s3", endpoint_url=emu.endpoint_url)
    local.create_bucket(Bucket="in-process")
    before = dispatch.answered
    body = bytes(range(256)) * 64
    for key in AWKWARD_KEYS:
        local.put_object(Bucket="in-process", Key=key, Body=body, Metadata={"source": "test"})
    assert dispatch.answered >= before + len(AWKWARD_KEYS)  # the calls above never left the process

    listed = sorted(o["Key"] for o in local.list_objects_v2(Bucket="in-process")["Contents"])
    assert listed == sorted(AWKWARD_KEYS)
    assert sorted(o["Key"] for o in remote.list_objects_v2(Bucket="in-process")["Contents"]) == listed
    for key in AWKWARD_KEYS:
        assert remote.get_object(Bucket="in-process", Key=key)["Body"].read() == body
        got = local.get_object(Bucket="in-process", Key=key, Range="bytes=10-19")
        assert got["Body"].read() == body[10:20] and got["Metadata"] == {"source": "test"}


def test_errors_come_back_as_the_service_errors(emulator):
    emu, _, _ = emulator
    s3 = _session().client("s3", endpoint_url=emu.endpoint_url)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket="in-process-none", Key="x")
    assert missing.value.response["Error"]["Code"] == "NoSuchBucket"
    dynamodb = _session().client("dynamodb", endpoint_url=emu.endpoint_url)
    _create_keyed_table(dynamodb, "in-process")
    dynamodb.put_item(TableName="in-process", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    with pytest.raises(ClientError) as conflict:
        dynamodb.put_item(
            TableName="in-process", Item={"pk": {"S": "a"}}, ConditionExpression="attribute_not_exists(pk)"
        )
    assert conflict.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert dynamodb.get_item(TableName="in-process", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}


def test_presigned_urls_still_checked(emulator):
    """Presigned URLs are fetched by other programs over HTTP; tampering is refused there as before."""
    import urllib3

    emu, _, _ = emulator
    s3 = _session().client("s3", endpoint_url=emu.endpoint_url)
    s3.create_bucket(Bucket="in-process-urls")
    s3.put_object(Bucket="in-process-urls", Key="k.jpg", Body=b"abc")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "in-process-urls", "Key": "k.jpg"}, ExpiresIn=60)
    http = urllib3.PoolManager()
    assert http.request("GET", url).data == b"abc"
    assert http.request("GET", url.replace("k.jpg", "other.jpg")).status == 403


@pytest.mark.slow  # waits for botocore to give up connecting, ~4 s
def test_other_endpoints_are_left_to_the_network(emulator):
    _, _, dispatch = emulator
    s3 = _session().client("s3", endpoint_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(Exception) as refused:  # nothing listens there: the request really went out
        s3.list_buckets()
    assert "Could not connect" in str(refused.value)
    assert dispatch.enabled


def test_dynamodb_item_answers_keep_every_attribute_type(emulator):
    """The emulator writes DynamoDB's item answers itself (moto_patches.plain_dynamodb_item_answers)."""
    emu, over_http, _ = emulator
    item = {
        "pk": {"S": "typed"},
        "s": {"S": 'ünïcode "quoted"'},
        "n": {"N": "-12.5"},
        "b": {"B": b"\x00\xffbinary"},
        "t": {"BOOL": True},
        "nil": {"NULL": True},
        "m": {"M": {"inner": {"L": [{"N": "1"}, {"S": "x"}, {"B": b"\x01"}]}}},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
        "bs": {"BS": [b"\x02", b"\x03"]},
    }
    for session in (_session(), over_http):
        dynamodb = session.client("dynamodb", endpoint_url=emu.endpoint_url)
        if "typed" not in dynamodb.list_tables()["TableNames"]:
            _create_keyed_table(dynamodb, "typed")
        dynamodb.put_item(TableName="typed", Item=item)
        key = {"pk": {"S": "typed"}}

        def normalized(answer: dict) -> dict:
            return {
                k: ({t: sorted(v) for t, v in value.items()} if k in {"ss", "ns", "bs"} else value)
                for k, value in answer.items()
            }

        expected = normalized(item)
        assert normalized(dynamodb.get_item(TableName="typed", Key=key)["Item"]) == expected
        batch = dynamodb.batch_get_item(RequestItems={"typed": {"Keys": [key]}}, ReturnConsumedCapacity="TOTAL")
        assert [normalized(i) for i in batch["Responses"]["typed"]] == [expected]
        assert batch["UnprocessedKeys"] == {}
        query = dynamodb.query(
            TableName="typed",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "typed"}},
            ProjectionExpression="b, m.inner",
            ReturnConsumedCapacity="TOTAL",
        )
        assert query["Items"] == [{"b": item["b"], "m": item["m"]}] and query["Count"] == 1
        assert query["ConsumedCapacity"]["TableName"] == "typed"
        assert [normalized(i) for i in dynamodb.scan(TableName="typed")["Items"]] == [expected]
        updated = dynamodb.update_item(
            TableName="typed",
            Key=key,
            UpdateExpression="SET b = :b",
            ExpressionAttributeValues={":b": {"B": b"\x04"}},
            ReturnValues="ALL_OLD",
        )
        assert updated["Attributes"]["b"] == item["b"]
        assert dynamodb.get_item(TableName="typed", Key=key, ProjectionExpression="b")["Item"] == {"b": {"B": b"\x04"}}
        assert dynamodb.describe_table(TableName="typed")["Table"]["KeySchema"][0]["AttributeName"] == "pk"


def test_queries_filter_and_project_without_touching_the_stored_items(emulator):
    """Queries copy what they answer after filtering (moto_patches.copy_query_results_after_filtering)."""
    emu, _, _ = emulator
    dynamodb = _session().client("dynamodb", endpoint_url=emu.endpoint_url)
    dynamodb.create_table(
        TableName="filtered",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(12):
        item = {"pk": {"S": "p"}, "sk": {"S": f"{i:02d}"}, "kind": {"S": "file"}, "n": {"N": str(i)}}
        item["counts"] = {"M": {"car": {"N": str(i % 4)}}}
        dynamodb.put_item(TableName="filtered", Item=item)
    answer = dynamodb.query(
        TableName="filtered",
        KeyConditionExpression="pk = :p",
        FilterExpression="counts.car >= :two",
        ProjectionExpression="sk, counts",
        ExpressionAttributeValues={":p": {"S": "p"}, ":two": {"N": "2"}},
    )
    assert [i["sk"]["S"] for i in answer["Items"]] == ["02", "03", "06", "07", "10", "11"]
    assert answer["ScannedCount"] == 12 and all(set(i) == {"sk", "counts"} for i in answer["Items"])
    by_index = dynamodb.query(
        TableName="filtered",
        IndexName="by-kind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "file"}},
    )
    assert len(by_index["Items"]) == 12 and all(set(i) == {"pk", "sk", "kind"} for i in by_index["Items"])
    stored = dynamodb.get_item(TableName="filtered", Key={"pk": {"S": "p"}, "sk": {"S": "03"}})["Item"]
    assert stored == {
        "pk": {"S": "p"},
        "sk": {"S": "03"},
        "kind": {"S": "file"},
        "n": {"N": "3"},
        "counts": {"M": {"car": {"N": "3"}}},
    }


def test_answers_carry_their_request_id_in_header_and_xml_body(emulator):
    """JSON answers skip moto's scan for ``<RequestId>``; XML answers still get the id, the header's."""
    emu, over_http, _ = emulator
    sqs = over_http.client("sqs", endpoint_url=emu.endpoint_url)
    dynamodb = over_http.client("dynamodb", endpoint_url=emu.endpoint_url)
    sts = over_http.client("sts", endpoint_url=emu.endpoint_url)
    json_answer = dynamodb.list_tables()["ResponseMetadata"]
    assert json_answer["RequestId"] and json_answer["HTTPHeaders"]["x-amzn-requestid"] == json_answer["RequestId"]
    ids = set()
    for answer in (sts.get_caller_identity(), sts.get_caller_identity(), sqs.create_queue(QueueName="request-ids")):
        xml_answer = answer["ResponseMetadata"]  # botocore reads RequestId from the XML body here
        assert xml_answer["RequestId"] == xml_answer["HTTPHeaders"]["x-amzn-requestid"]
        ids.add(xml_answer["RequestId"])
    assert len(ids) == 3


def test_batch_reads_see_updates_and_keep_the_16_mib_answer_limit(emulator):
    """A read snapshot's size is computed once; the live item's is not, so an update shows in the next read."""
    emu, over_http, _ = emulator
    dynamodb = _session().client("dynamodb", endpoint_url=emu.endpoint_url)
    _create_keyed_table(dynamodb, "batch-sizes", key="PK")
    big = "x" * 390_000
    for i in range(45):  # 45 × ~390 KB > 16 MiB: one BatchGetItem cannot answer them all
        dynamodb.put_item(TableName="batch-sizes", Item={"PK": {"S": f"k{i}"}, "body": {"S": big}})
    keys = [{"PK": {"S": f"k{i}"}} for i in range(45)]
    answer = dynamodb.batch_get_item(RequestItems={"batch-sizes": {"Keys": keys}})
    answered = answer["Responses"]["batch-sizes"]
    unprocessed = answer["UnprocessedKeys"]["batch-sizes"]["Keys"]
    assert 0 < len(answered) < 45 and len(answered) + len(unprocessed) == 45
    assert sum(len(item["body"]["S"]) for item in answered) <= 16 * 1024 * 1024

    dynamodb.update_item(
        TableName="batch-sizes",
        Key={"PK": {"S": "k0"}},
        UpdateExpression="SET body = :small",
        ExpressionAttributeValues={":small": {"S": "small"}},
    )
    for _ in range(2):  # read twice: a size remembered from the first read must not leak into the second
        again = dynamodb.batch_get_item(RequestItems={"batch-sizes": {"Keys": keys[:1]}})["Responses"]["batch-sizes"]
        assert again == [{"PK": {"S": "k0"}, "body": {"S": "small"}}]
    remote = over_http.client("dynamodb", endpoint_url=emu.endpoint_url)
    assert remote.get_item(TableName="batch-sizes", Key=keys[0])["Item"]["body"] == {"S": "small"}


#: a job's queue, as the platform's tasks index it: a partition per queue, in the order of ``at``
_QUEUE_INDEX = {
    "IndexName": "queue",
    "KeySchema": [{"AttributeName": "queue", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
    "Projection": {"ProjectionType": "ALL"},
}


def test_index_queries_see_every_write_that_moves_an_item_in_or_out_of_a_partition(emulator):
    """Index queries look items up in maps the writes keep (moto_patches.dynamodb_indexes): a claim that sets an
    item's index key, a submit that removes it, a put that replaces it, a delete, a transaction, a batch, and a
    refused write must each show in the next query exactly as a scan of the table would."""
    emu, _, _ = emulator
    dynamodb = _session().client("dynamodb", endpoint_url=emu.endpoint_url)
    dynamodb.create_table(
        TableName="queued",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "queue", "at", "holder")
        ],
        GlobalSecondaryIndexes=[
            _QUEUE_INDEX,
            {
                "IndexName": "holder",
                "KeySchema": [{"AttributeName": "holder", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )

    def key(i: int) -> dict:
        return {"pk": {"S": "job"}, "sk": {"S": f"t{i:02d}"}}

    def queue(name: str = "q", upto: str = "9") -> list[str]:
        answer = dynamodb.query(
            TableName="queued",
            IndexName="queue",
            KeyConditionExpression="queue = :q AND #at < :upto",
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues={":q": {"S": name}, ":upto": {"S": upto}},
        )
        return [i["sk"]["S"] for i in answer["Items"]]

    def held_by(who: str) -> list[str]:
        answer = dynamodb.query(
            TableName="queued",
            IndexName="holder",
            KeyConditionExpression="holder = :h",
            ExpressionAttributeValues={":h": {"S": who}},
        )
        return sorted(i["sk"]["S"] for i in answer["Items"])

    for i in range(6):
        dynamodb.put_item(TableName="queued", Item={**key(i), "queue": {"S": "q"}, "at": {"S": f"{i}"}})
    assert queue() == ["t00", "t01", "t02", "t03", "t04", "t05"]  # the first query builds the map
    assert held_by("ann") == []

    # a claim: moves the item back in the queue and into the holder's partition
    dynamodb.update_item(
        TableName="queued",
        Key=key(0),
        UpdateExpression="SET holder = :h, #at = :later",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":h": {"S": "ann"}, ":later": {"S": "8"}},
    )
    assert queue() == ["t01", "t02", "t03", "t04", "t05", "t00"]
    assert held_by("ann") == ["t00"]
    # a submit: out of the queue
    dynamodb.update_item(
        TableName="queued", Key=key(0), UpdateExpression="REMOVE queue, #at", ExpressionAttributeNames={"#at": "at"}
    )
    assert queue() == ["t01", "t02", "t03", "t04", "t05"] and held_by("ann") == ["t00"]
    # a refused claim changes nothing
    with pytest.raises(ClientError):
        dynamodb.update_item(
            TableName="queued",
            Key=key(1),
            UpdateExpression="SET holder = :h",
            ConditionExpression="attribute_exists(holder)",
            ExpressionAttributeValues={":h": {"S": "bob"}},
        )
    assert held_by("bob") == []
    # a put replacing an item moves it to another queue; a delete takes one out
    dynamodb.put_item(TableName="queued", Item={**key(2), "queue": {"S": "other"}, "at": {"S": "1"}})
    dynamodb.delete_item(TableName="queued", Key=key(3))
    assert queue() == ["t01", "t04", "t05"] and queue("other") == ["t02"]
    # a transaction and a batch
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "queued",
                    "Key": key(4),
                    "UpdateExpression": "SET holder = :h",
                    "ExpressionAttributeValues": {":h": {"S": "bob"}},
                }
            },
            {"Put": {"TableName": "queued", "Item": {**key(6), "queue": {"S": "q"}, "at": {"S": "0"}}}},
        ]
    )
    dynamodb.batch_write_item(
        RequestItems={
            "queued": [
                {"PutRequest": {"Item": {**key(7), "queue": {"S": "q"}, "at": {"S": "2"}, "holder": {"S": "bob"}}}},
                {"DeleteRequest": {"Key": key(5)}},
            ]
        }
    )
    assert queue() == ["t06", "t01", "t07", "t04"]
    assert held_by("bob") == ["t04", "t07"] and held_by("ann") == ["t00"]
    scanned = dynamodb.scan(TableName="queued")["Items"]
    assert sorted(i["sk"]["S"] for i in scanned if i.get("queue", {}).get("S") == "q") == sorted(queue())


def test_a_first_index_query_on_a_full_table_decodes_only_what_it_answers(emulator, monkeypatch):
    """An index's maps exist from the table's creation (moto_patches.dynamodb_indexes): the first query on an
    index of a table already holding thousands of items must not decode them all under the emulator's one lock
    (what a job's first ``next`` did to the whole platform), only the items of its page."""
    from moto.dynamodb.models import dynamodb_backends

    from infra.local.moto_patches import dynamodb_compact

    emu, _, _ = emulator
    dynamodb = _session().client("dynamodb", endpoint_url=emu.endpoint_url)
    dynamodb.create_table(
        TableName="full",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "queue", "at")],
        GlobalSecondaryIndexes=[_QUEUE_INDEX],
        BillingMode="PAY_PER_REQUEST",
    )
    files = [{"pk": {"S": f"file{i % 40}"}, "sk": {"S": f"v{i:04d}"}, "body": {"S": "x" * 200}} for i in range(1000)]
    tasks = [
        {"pk": {"S": "job"}, "sk": {"S": f"t{i:03d}"}, "queue": {"S": "q"}, "at": {"S": f"{999 - i:03d}"}}
        for i in range(200)
    ]
    for start in range(0, len(files) + len(tasks), 25):
        batch = (files + tasks)[start : start + 25]
        dynamodb.batch_write_item(RequestItems={"full": [{"PutRequest": {"Item": item}} for item in batch]})

    table = next(
        backend.tables["full"]
        for regions in dynamodb_backends.values()
        for backend in regions.values()
        if "full" in backend.tables
    )
    # as after a restart, or once other reads have taken the place of these items among those kept decoded
    for kept in [kept for kept in dynamodb_compact._decoded if kept[0] in {id(p) for p in table.items.values()}]:
        del dynamodb_compact._decoded[kept]
    decoded = []
    monkeypatch.setattr(
        dynamodb_compact, "decode", lambda *args, real=dynamodb_compact.decode: decoded.append(args) or real(*args)
    )
    page = dynamodb.query(
        TableName="full",
        IndexName="queue",
        KeyConditionExpression="queue = :q AND #at < :upto",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":q": {"S": "q"}, ":upto": {"S": "999"}},
        Limit=5,
    )
    assert [item["sk"]["S"] for item in page["Items"]] == ["t199", "t198", "t197", "t196", "t195"]
    assert len(decoded) <= 6  # the page, and the one past it that tells moto there is more
