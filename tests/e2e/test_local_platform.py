"""``make up`` as a new user meets it: health, credentials, the drop folder, presigned URLs, restart.

Tests in this module run in order against the session's shared platform; the ones that kill an API worker
or restart the platform use a platform of their own (``own_platform``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
import urllib3
from botocore.config import Config
from PIL import Image

from tests.support.processes import platform_processes, process_state

CREDENTIAL_KEYS = {
    "host",
    "project",
    "client_id",
    "client_secret",
    "aws_endpoint_url",
    "drop_bucket",
    "username",
    "password",
}


def _aws_env(platform) -> dict[str, str]:
    creds = platform.credentials
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _aws_cli(platform, *args: str) -> dict | str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "awscli", "--endpoint-url", platform.emulator_url, *args],
        capture_output=True,
        text=True,
        env=_aws_env(platform),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return result.stdout


def _clients(platform):
    creds = platform.credentials
    session = boto3.Session(
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        region_name="us-east-1",
    )
    services = ("s3", "stepfunctions", "dynamodb", "lambda")
    return {s: session.client(s, endpoint_url=platform.emulator_url) for s in services}


def _jpeg(colour=(10, 200, 30), size=(80, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _png(size=(80, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 30, 220)).save(buffer, format="PNG")
    return buffer.getvalue()


def _ingest_machine(platform) -> str:
    machines = _aws_cli(platform, "stepfunctions", "list-state-machines")["stateMachines"]
    ingest = [m["stateMachineArn"] for m in machines if "ingest" in (n := m["name"].lower()) and "video" not in n]
    assert len(ingest) == 1, machines
    return ingest[0]


def _executions(platform, machine_arn: str) -> set[str]:
    listed = _aws_cli(platform, "stepfunctions", "list-executions", "--state-machine-arn", machine_arn)
    return {e["executionArn"] for e in listed["executions"]}


def _wait_for_new_execution(platform, machine_arn: str, known: set[str], timeout=60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        executions = _aws_cli(platform, "stepfunctions", "list-executions", "--state-machine-arn", machine_arn)
        for execution in executions["executions"]:
            if execution["executionArn"] not in known and execution["status"] != "RUNNING":
                return execution
        time.sleep(0.5)
    raise AssertionError("no new ingest execution finished")


def _file_items(platform) -> list[dict]:
    ddb = _clients(platform)["dynamodb"]
    table = [t for t in ddb.list_tables()["TableNames"] if "idempotency" not in t.lower()]
    items = []
    for name in table:
        paginator = ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=name):
            items += [i for i in page["Items"] if i.get("kind", {}).get("S") == "file"]
    return items


def test_health_and_credentials(platform):
    http = urllib3.PoolManager()
    response = http.request("GET", f"{platform.api_url}/api/v1/health")
    body = json.loads(response.data)
    assert response.status == 200 and body["status"] == "ok"
    assert body["checks"] == {"table": True, "media_bucket": True, "drop_bucket": True}
    assert body["version"]
    creds = platform.credentials
    assert creds.keys() >= CREDENTIAL_KEYS
    assert creds["project"] == "demo" and creds["host"] == platform.api_url
    assert oct((platform.home / "credentials.json").stat().st_mode)[-3:] == "600"


def test_sdk_connects_with_the_written_credentials(platform, monkeypatch):
    from annolake import Project

    monkeypatch.setenv("ANNOLAKE_CREDENTIALS", str(platform.home / "credentials.json"))
    project = Project()
    assert project.project_string_id == "demo"
    assert project.health()["status"] == "ok"


def _api_workers(platform) -> set[int]:
    """The platform's spawned API worker processes (not multiprocessing's resource tracker, nor function workers)."""
    return {pid for role, pid in platform_processes(platform.process.pid).items() if role.startswith("API worker")}


def _wait_for_api_workers(platform, count: int, timeout_s: float = 60, without: int | None = None) -> set[int]:
    """The API workers once ``count`` run, none of them ``without`` (a killed worker is listed until it dies)."""
    deadline = time.monotonic() + timeout_s
    workers = _api_workers(platform) - {without}
    while len(workers) < count and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = _api_workers(platform) - {without}
    return workers


def _queue_share(pid: int) -> str:
    """The ``QUEUE_SHARE`` an API worker was started with."""
    environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next(v.split(b"=", 1)[1].decode() for v in environment if v.startswith(b"QUEUE_SHARE="))


def test_the_api_runs_in_its_own_processes_and_one_that_dies_is_replaced(own_platform):
    """An API crash must not take the emulator (and the data in it) down; the worker comes back."""
    from annolake import Project

    platform = own_platform.running()
    creds = platform.credentials
    project = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
    workers = _wait_for_api_workers(platform, 2)  # health answers once one worker is up; the other may still start
    assert len(workers) == 2, workers
    assert sorted(_queue_share(pid) for pid in workers) == ["0/2", "1/2"]  # they claim apart
    killed = workers.pop()
    share = _queue_share(killed)
    os.kill(killed, 9)
    replaced = _wait_for_api_workers(platform, 2, without=killed)
    assert len(replaced) == 2 and workers < replaced, (workers, replaced)
    assert _queue_share((replaced - workers).pop()) == share  # the new worker takes the dead one's share
    for _ in range(6):  # both workers answer, with the data the emulator kept
        assert len(project.directory.get("default")) == 24


def test_demo_seed_went_through_ingest(platform):
    files = _file_items(platform)
    assert len(files) == 24
    assert all(f["status"]["S"] == "ready" for f in files)
    assert any(int(f["label_counts"]["M"].get("car", {"N": "0"})["N"]) > 0 for f in files)


SEED_STREAMING_EXAMPLE = """
from annolake import Project

project = Project(project_string_id="demo", client_id="{client_id}", client_secret="{client_secret}", host="{host}")
default_dataset = project.directory.get(name="default")
print("len", len(default_dataset))
print("sample7", default_dataset[7]["file"]["name"], default_dataset[7]["image"].shape)
sliced_dataset = default_dataset.slice("labels.car > 3 and labels.pedestrian >= 1")
print("sliced", len(sliced_dataset))
pytorch_dataset = sliced_dataset.to_pytorch()
print("torch", len(pytorch_dataset), sorted(pytorch_dataset[0]))
tf_dataset = sliced_dataset.to_tensorflow()
print("tf", sum(1 for _ in tf_dataset), tf_dataset.element_spec["boxes"].shape)
"""


def test_the_seed_streaming_example_runs_against_make_up(platform, tmp_path):
    creds = platform.credentials
    script = tmp_path / "streaming_example.py"
    script.write_text(SEED_STREAMING_EXAMPLE.format(**creds))
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=_aws_env(platform)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    files = [f for f in _file_items(platform) if f["status"]["S"] == "ready"]

    def count(f, label):
        return int(f["label_counts"]["M"].get(label, {"N": "0"})["N"])

    matching = [f for f in files if count(f, "car") > 3 and count(f, "pedestrian") >= 1]
    assert int(lines["len"]) == len(files) == 24  # this runs before the other tests add files
    assert lines["sample7"].startswith("scene-") and lines["sample7"].endswith(", 3)")
    assert int(lines["sliced"]) == len(matching) > 0
    assert lines["torch"].startswith(f"{len(matching)} [")
    assert "'image'" in lines["torch"] and "'x_min_list'" in lines["torch"]
    assert lines["tf"].startswith(f"{len(matching)} ")


def test_drop_with_the_aws_cli_runs_the_ingest_state_machine(platform, tmp_path):
    machine = _ingest_machine(platform)
    known = _executions(platform, machine)
    image = tmp_path / "img.jpg"
    image.write_bytes(_jpeg())
    drop = platform.credentials["drop_bucket"]
    _aws_cli(platform, "s3", "cp", str(image), f"s3://{drop}/demo/cli-drops/img.jpg")
    execution = _wait_for_new_execution(platform, machine, known)
    assert execution["status"] == "SUCCEEDED"
    history = _aws_cli(
        platform, "stepfunctions", "get-execution-history", "--execution-arn", execution["executionArn"]
    )["events"]
    succeeded = [e["stateExitedEventDetails"]["name"] for e in history if e["type"] == "TaskStateExited"]
    assert succeeded == ["ProcessMedia", "RegisterFiles"]
    files = [f for f in _file_items(platform) if f["original_name"]["S"] == "img.jpg"]
    assert len(files) == 1 and files[0]["status"]["S"] == "ready"
    assert files[0]["width"]["N"] == "80" and files[0]["height"]["N"] == "60"


def test_replayed_s3_events_create_no_duplicates(platform):
    """S3 delivers at least once: the img.jpg event put on the arrivals queue 3x more leaves one file and no
    spurious records; S3's test event starts nothing and fails nothing."""
    sqs = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
        "sqs", endpoint_url=platform.emulator_url
    )
    [arrivals] = [url for url in sqs.list_queues()["QueueUrls"] if "arrivals" in url.lower()]
    drop = platform.credentials["drop_bucket"]
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": drop, "arn": f"arn:aws:s3:::{drop}"},
                    "object": {"key": "demo/cli-drops/img.jpg", "size": 1000, "eTag": "replayed", "sequencer": "01"},
                },
            }
        ]
    }
    for _ in range(3):
        sqs.send_message(QueueUrl=arrivals, MessageBody=json.dumps(event))
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": drop}  # S3 sends it on configuring
    sqs.send_message(QueueUrl=arrivals, MessageBody=json.dumps(test_event))
    time.sleep(4)
    files = [f for f in _file_items(platform) if f["original_name"]["S"] == "img.jpg"]
    assert len(files) == 1 and files[0]["status"]["S"] == "ready"
    dead_letters = [url for url in sqs.list_queues()["QueueUrls"] if "triggerdeadletter" in url.lower()]
    assert dead_letters and all(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
        for url in dead_letters
    )


def test_a_corrupt_drop_is_quarantined_with_its_reason(platform):
    s3 = _clients(platform)["s3"]
    machine = _ingest_machine(platform)
    known = _executions(platform, machine)
    s3.put_object(
        Bucket=platform.credentials["drop_bucket"],
        Key="demo/cli-drops/broken photo.jpg",
        Body=_jpeg(size=(300, 200))[:200],
    )
    execution = _wait_for_new_execution(platform, machine, known)
    assert execution["status"] == "SUCCEEDED"
    files = [f for f in _file_items(platform) if f["original_name"]["S"] == "broken photo.jpg"]
    assert len(files) == 1 and files[0]["status"]["S"] == "quarantined"
    assert "truncated or damaged" in files[0]["status_reason"]["S"]


def _video_machine(platform) -> str:
    machines = _aws_cli(platform, "stepfunctions", "list-state-machines")["stateMachines"]
    [video] = [m["stateMachineArn"] for m in machines if "ingestvideo" in m["name"].lower()]
    return video


def test_a_dropped_video_takes_the_video_machine_and_a_cut_one_is_quarantined(platform, tmp_path):
    """The state machines as synthesized: IsVideo hands an MP4 to the video ingest machine (PyAV), which probes,
    extracts its frames and registers it."""
    from tests.support.video_fixtures import decoded_frames, make_video

    s3, drop = _clients(platform)["s3"], platform.credentials["drop_bucket"]
    machine, video = _ingest_machine(platform), _video_machine(platform)
    clip = make_video(tmp_path / "clip.mp4", frames=45)
    known, known_videos = _executions(platform, machine), _executions(platform, video)
    s3.put_object(Bucket=drop, Key="demo/videos/clip.mp4", Body=clip.read_bytes())
    succeeded = []
    for arn, before in ((machine, known), (video, known_videos)):
        execution = _wait_for_new_execution(platform, arn, before, timeout=120)
        assert execution["status"] == "SUCCEEDED"
        history = _aws_cli(
            platform, "stepfunctions", "get-execution-history", "--execution-arn", execution["executionArn"]
        )["events"]
        succeeded += [e["stateExitedEventDetails"]["name"] for e in history if e["type"] == "TaskStateExited"]
    # RegisterFiles runs over the batch, and has no image of it to record.
    assert succeeded == [
        "ProcessMedia",
        "StartVideoIngest",
        "RegisterFiles",
        "ProbeVideo",
        "ExtractSegment",
        "FinishVideo",
    ]
    [item] = [f for f in _file_items(platform) if f["original_name"]["S"] == "clip.mp4"]
    assert item["status"]["S"] == "ready" and item["media_type"]["S"] == "video"
    assert json.loads(item["video"]["S"])["frame_count"] == len(decoded_frames(clip)) == 45

    cut = make_video(tmp_path / "cut.mkv", frames=45).read_bytes()
    known = _executions(platform, video)
    s3.put_object(Bucket=drop, Key="demo/videos/cut.mkv", Body=cut[: len(cut) * 4 // 5])
    assert _wait_for_new_execution(platform, video, known, timeout=120)["status"] == "SUCCEEDED"  # quarantined
    [refused] = [f for f in _file_items(platform) if f["original_name"]["S"] == "cut.mkv"]
    assert refused["status"]["S"] == "quarantined"
    assert "the Matroska file is truncated" in refused["status_reason"]["S"]


def test_presigned_urls_are_checked_like_s3(platform):
    s3 = _clients(platform)["s3"]
    drop = platform.credentials["drop_bucket"]
    s3.put_object(Bucket=drop, Key="notes/readme.txt", Body=b"hello")
    http = urllib3.PoolManager()
    fresh = s3.generate_presigned_url("get_object", Params={"Bucket": drop, "Key": "notes/readme.txt"}, ExpiresIn=60)
    assert http.request("GET", fresh).status == 200
    for signature_version in ("s3v4", "s3"):  # botocore picks SigV2 for custom endpoints unless told
        signer = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client(
            "s3", endpoint_url=platform.emulator_url, config=Config(signature_version=signature_version)
        )
        short = signer.generate_presigned_url(
            "get_object", Params={"Bucket": drop, "Key": "notes/readme.txt"}, ExpiresIn=1
        )
        time.sleep(2.1)
        response = http.request("GET", short)
        assert response.status == 403 and b"expired" in response.data.lower(), (signature_version, response.data)
    tampered = fresh.replace("readme.txt", "other.txt")
    assert http.request("GET", tampered).status == 403


def test_sdk_upload_annotate_and_conflict(platform, monkeypatch, tmp_path):
    from annolake import PermissionDenied, Project, VersionConflict

    monkeypatch.setenv("ANNOLAKE_CREDENTIALS", str(platform.home / "credentials.json"))
    project = Project()
    dataset = project.directory.new("sdk-uploads")
    assert "sdk-uploads" in [d.name for d in project.directory.list()]
    project.label_new({"name": "cone", "colour": "#ff8800"})
    image = tmp_path / "cone shot.jpg"
    image.write_bytes(_jpeg(colour=(250, 120, 0), size=(120, 90)))
    box = {"type": "box", "name": "cone", "x_min": 10, "y_min": 10, "x_max": 60, "y_max": 80}
    file = project.file.from_local(image, directory=dataset.name, instance_list=[box])
    assert (file.status, file.width, file.height, file.name) == ("ready", 120, 90, "cone shot.jpg")
    assert file.annotation_version == 1 and file.instance_list[0]["name"] == "cone"

    stale = project.file.get_by_id(file.id)
    stale.instance_list  # read version 1
    file.update([{**file.instance_list[0], "x_max": 70}])
    with pytest.raises(VersionConflict) as conflict:
        stale.update([])
    assert conflict.value.details["current_version"] == 2
    assert [v["version"] for v in file.history()] == [1, 2]
    assert [f.id for f in dataset.files()] == [file.id]

    viewer_key = project.client.post(f"{project._path}/api-keys", {"name": "ro", "role": "viewer"})
    viewer = Project("demo", viewer_key["client_id"], viewer_key["client_secret"], platform.api_url)
    assert viewer.directory.get("sdk-uploads").file_count() == 1
    with pytest.raises(PermissionDenied):
        viewer.directory.new("not-allowed")


def test_sdk_from_url_and_packet(platform, monkeypatch, tmp_path):
    """The local stage lets from_url fetch loopback hosts (the cloud stages refuse them)."""
    import functools
    import http.server
    import threading

    from annolake import Project

    (tmp_path / "bike.png").write_bytes(_png(size=(100, 80)))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/bike.png"
    monkeypatch.setenv("ANNOLAKE_CREDENTIALS", str(platform.home / "credentials.json"))
    project = Project()
    box = {"type": "box", "name": "bicycle", "x_min": 5, "y_min": 5, "x_max": 50, "y_max": 60}
    file = project.file.from_url(url, directory="web", instance_list=[box])
    assert (file.status, file.name, file.width, file.height) == ("ready", "bike.png", 100, 80)
    assert [i["name"] for i in file.instance_list] == ["bicycle"]
    same = project.file.from_packet({"media": {"url": url, "type": "image"}, "instance_list": []}, directory="web")
    assert same.id == file.id  # same bytes in the same project: one file
    server.shutdown()


def test_sdk_coco_import_of_500_images_and_3000_boxes_and_cli_upload(platform, monkeypatch, tmp_path):
    """Issue 5's COCO scenario at its size: 500 images / 3,000 boxes import completely, the SDK reads back the same
    boxes; then `annolake upload` of a folder with one broken file."""
    from annolake import Project
    from annolake.cli import main as cli

    monkeypatch.setenv("ANNOLAKE_CREDENTIALS", str(platform.home / "credentials.json"))
    project = Project()
    names = ["forklift", "pallet", "person"]
    images, annotations, expected = [], [], {}
    (tmp_path / "coco" / "images").mkdir(parents=True)
    for i in range(500):
        name = f"{i:03d}.jpg"
        (tmp_path / "coco" / "images" / name).write_bytes(
            _jpeg(colour=(i * 8 % 256, 40 + i // 32, 90), size=(64 + i % 50, 48))
        )
        images.append({"id": i, "file_name": name})
        boxes = [(1 + k % 3, [k * 5 + i % 7, 2 + k, 4 + i % 3, 6]) for k in range(6)]
        annotations += [{"id": len(annotations), "image_id": i, "category_id": c, "bbox": b} for c, b in boxes]
        expected[name] = sorted((names[c - 1], x, y, x + w, y + h) for c, (x, y, w, h) in boxes)
    categories = [{"id": n + 1, "name": label} for n, label in enumerate(names)]
    coco = {"images": images, "annotations": annotations, "categories": categories}
    (tmp_path / "coco" / "instances.json").write_text(json.dumps(coco))
    job = project.import_coco(tmp_path / "coco" / "instances.json", "warehouse", progress=False, create_labels=True)
    assert (job["status"], job["total"], job["done"], job["failed"]) == ("completed", 500, 500, 0)
    assert len(annotations) == 3000
    read_back = {
        sample["file"]["name"]: sorted(
            zip(
                sample["label_name_list"],
                sample["x_min_list"],
                sample["y_min_list"],
                sample["x_max_list"],
                sample["y_max_list"],
                strict=True,
            )
        )
        for sample in project.directory.get("warehouse")
    }
    assert read_back == expected

    upload_dir = tmp_path / "to-upload"
    upload_dir.mkdir()
    for i in range(4):
        (upload_dir / f"u{i}.JPG").write_bytes(_jpeg(colour=(10, i * 50, 10), size=(33 + i, 20)))
    (upload_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff nope")
    assert cli(["upload", str(upload_dir), "--directory", "cli-upload"]) == 1  # one failure is reported
    assert project.directory.get("cli-upload").file_count() == 5
    ready = [f for f in project.directory.get("cli-upload").files() if f.status == "ready"]
    assert len(ready) == 4


def _drop_folder(root: Path) -> dict[str, tuple[int, int]]:
    """200 images (.jpg, .JPG, .jpeg, a PNG, one without extension, one EXIF-rotated, some in a sub folder), 5
    corrupt, 1 empty, 1 text file, and a sidecar for img-005. Returns each image's name → (width, height)."""
    expected = {}
    for i in range(200):
        suffix = {0: ".JPG", 1: ".jpeg"}.get(i % 10, ".jpg")
        suffix = {2: "", 3: ".png"}.get(i, suffix)
        name, size = f"img-{i:03d}{suffix}", (40 + i, 30 + i % 7)
        buffer = io.BytesIO()
        image = Image.new("RGB", size, (i, 255 - i, (7 * i) % 256))
        if i == 3:
            image.save(buffer, format="PNG")
        elif i == 4:  # stored landscape, shown portrait: EXIF orientation 6 (rotate 90°)
            exif = Image.Exif()
            exif[0x0112] = 6
            image.save(buffer, format="JPEG", exif=exif)
            size = size[::-1]
        else:
            image.save(buffer, format="JPEG")
        folder = root / "night" if i >= 150 else root
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(buffer.getvalue())
        expected[name] = size
    for k in range(5):
        (root / f"corrupt-{k}.jpg").write_bytes(_jpeg(size=(300, 200))[: 200 + 40 * k])
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("camera log, not an image\n")
    sidecar = {
        "instance_list": [{"type": "box", "name": "cone", "x_min": 2, "y_min": 3, "x_max": 30, "y_max": 25}],
        "metadata": {"camera": "front"},
    }
    (root / "img-005.json").write_text(json.dumps(sidecar))
    return expected


def test_a_recursive_cli_drop_of_200_images_and_bad_files(platform, monkeypatch, tmp_path):
    """Issue 5's first scenario as a user runs it: `aws s3 cp --recursive` of a folder into the drop bucket."""
    from annolake import NotFound, Project

    monkeypatch.setenv("ANNOLAKE_CREDENTIALS", str(platform.home / "credentials.json"))
    expected = _drop_folder(tmp_path / "street")
    drop = platform.credentials["drop_bucket"]
    _aws_cli(platform, "s3", "cp", "--recursive", "--quiet", str(tmp_path / "street"), f"s3://{drop}/demo/street/")

    project = Project()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        with contextlib.suppress(NotFound):
            if project.directory.get("street").file_count() >= 207:
                break
        time.sleep(1)
    files = list(project.directory.get("street").files())
    ready = {f.name: f for f in files if f.status == "ready"}
    assert {name: (f.width, f.height) for name, f in ready.items()} == expected
    assert ready["img-003.png"].mime_type == "image/png" and ready["img-002"].mime_type == "image/jpeg"

    http = urllib3.PoolManager()
    for name in ("img-000.JPG", "img-004.jpg", "img-199.jpg"):
        thumbnail = http.request("GET", ready[name].thumbnail_url)
        assert thumbnail.status == 200
        with Image.open(io.BytesIO(thumbnail.data)) as shown:
            assert shown.format == "JPEG" and shown.size == expected[name]  # small images keep their size
    assert ready["img-004.jpg"].width < ready["img-004.jpg"].height  # turned by its EXIF orientation

    quarantined = {f.name: f.status_reason for f in project.directory.get("street").files(status="quarantined")}
    assert sorted(quarantined) == [*(f"corrupt-{k}.jpg" for k in range(5)), "empty.jpg", "notes.txt"]
    assert all("truncated or damaged" in quarantined[f"corrupt-{k}.jpg"] for k in range(5))
    assert "empty" in quarantined["empty.jpg"] and "text files are not supported" in quarantined["notes.txt"]
    assert len(files) == 207

    with_sidecar = ready["img-005.jpg"]
    assert [(i["name"], i["x_max"]) for i in with_sidecar.instance_list] == [("cone", 30.0)]
    assert with_sidecar.metadata == {"camera": "front"}
    assert all(not f.label_counts for name, f in ready.items() if name != "img-005.jpg")
    left = _clients(platform)["s3"].list_objects_v2(Bucket=drop, Prefix="demo/street/").get("Contents", [])
    assert left == []  # every arrival moved to the media bucket or to quarantine/, the sidecar applied


def _history(platform, execution: dict) -> list[dict]:
    return _aws_cli(platform, "stepfunctions", "get-execution-history", "--execution-arn", execution["executionArn"])[
        "events"
    ]


def test_a_throttled_step_is_retried_and_one_that_stays_throttled_is_quarantined_then_redriven(platform, monkeypatch):
    """Issue 5's failure scenario on the real ingest state machine, with Lambda throttling the ProcessMedia step
    (the emulator's fault rules, infra/local/faults.py): once → retried, ready; every time → quarantined with the
    error after the retries; dropped again once the throttling is over → ready, one file."""
    clients, http = _clients(platform), urllib3.PoolManager()
    faults = f"{platform.emulator_url}/_annolake/faults"
    functions = clients["lambda"].list_functions()["Functions"]
    process = next(f["FunctionName"] for f in functions if "ingestprocess" in f["FunctionName"].lower())
    throttled = {"method": "POST", "path_contains": process, "status": 429, "code": "TooManyRequestsException"}
    machine, drop = _ingest_machine(platform), platform.credentials["drop_bucket"]

    def drop_and_wait(key: str, body: bytes) -> tuple[list[str], list[str]]:
        """The errors of the execution's failed task attempts, and the states it left successfully."""
        known = _executions(platform, machine)
        clients["s3"].put_object(Bucket=drop, Key=key, Body=body)
        execution = _wait_for_new_execution(platform, machine, known, timeout=120)
        assert execution["status"] == "SUCCEEDED"  # a quarantine is a handled outcome, not a failed execution
        history = _history(platform, execution)
        failed = [e["lambdaFunctionFailedEventDetails"] for e in history if e["type"] == "LambdaFunctionFailed"]
        exited = [e["stateExitedEventDetails"]["name"] for e in history if e["type"] == "TaskStateExited"]
        return [f["error"] for f in failed], exited

    assert http.request("POST", faults, body=json.dumps({**throttled, "times": 1})).status == 201
    failures, steps = drop_and_wait("demo/faults/once.jpg", _jpeg(colour=(1, 2, 3), size=(91, 61)))
    assert failures == ["Lambda.TooManyRequestsException"] and steps == ["ProcessMedia", "RegisterFiles"]

    assert http.request("POST", faults, body=json.dumps(throttled)).status == 201
    outage = _jpeg(colour=(4, 5, 6), size=(93, 63))
    failures, steps = drop_and_wait("demo/faults/always.jpg", outage)
    assert failures == ["Lambda.TooManyRequestsException"] * 4  # the first try and 3 retries (2, 4, 8 s apart)
    # ProcessMedia is left by its Catch; RegisterFiles then has nothing of the batch to record.
    assert steps == ["ProcessMedia", "QuarantineFile", "RegisterFiles"]
    rules = json.loads(http.request("GET", faults).data)["rules"]
    assert [(r["times"], r["fired"]) for r in rules] == [(1, 1), (None, 4)]
    assert http.request("DELETE", faults).status == 200

    by_name = {f["original_name"]["S"]: f for f in _file_items(platform) if f.get("deleted_at") is None}
    assert by_name["once.jpg"]["status"]["S"] == "ready" and by_name["always.jpg"]["status"]["S"] == "quarantined"
    assert by_name["always.jpg"]["status_reason"]["S"].startswith("Lambda.TooManyRequestsException: ")

    failures, steps = drop_and_wait("demo/faults/always.jpg", outage)  # the re-drive, the outage over
    assert (failures, steps) == ([], ["ProcessMedia", "RegisterFiles"])
    from annolake import Project

    monkeypatch.setenv("ANNOLAKE_CREDENTIALS", str(platform.home / "credentials.json"))
    listed = [(f.name, f.status) for f in Project().directory.get("faults").files()]
    assert sorted(listed) == [("always.jpg", "ready"), ("once.jpg", "ready")]


def test_a_notification_the_trigger_cannot_handle_is_retried_then_dead_lettered_alone(platform):
    """The trigger reports failed messages of its batch one by one: a sidecar whose mark cannot be written (the
    trigger's DynamoDB writes denied) is received 3 times, then lands in the arrivals' dead-letter queue, while
    the photo dropped beside it, in the same batches, is ingested.

    A refusal botocore does not retry, so each receive fails at once: a server error would be retried 5 times
    with backoff inside each invocation (up to ~31 s each), and the three receives could outlast any short wait."""
    from urllib.parse import unquote_plus

    clients, http = _clients(platform), urllib3.PoolManager()
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    sqs = session.client("sqs", endpoint_url=platform.emulator_url)
    [dead_letters] = [url for url in sqs.list_queues()["QueueUrls"] if "triggerdeadletter" in url.lower()]
    trigger = next(
        f["FunctionName"]
        for f in clients["lambda"].list_functions()["Functions"]
        if "ingesttrigger" in f["FunctionName"]
    )
    faults = f"{platform.emulator_url}/_annolake/faults"
    denied = {"operation": "dynamodb:UpdateItem", "function": trigger, "status": 400, "code": "AccessDeniedException"}
    assert http.request("POST", faults, body=json.dumps(denied)).status == 201
    drop, prefix = platform.credentials["drop_bucket"], f"demo/unhandled-{time.time_ns()}/"
    try:
        clients["s3"].put_object(Bucket=drop, Key=f"{prefix}lonely.json", Body=b'{"instance_list": []}')
        clients["s3"].put_object(Bucket=drop, Key=f"{prefix}photo.jpg", Body=_jpeg(colour=(7, 70, 170)))
        deadline, dead = time.monotonic() + 60, []
        while time.monotonic() < deadline and not dead:
            dead = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10).get("Messages", [])
            time.sleep(0.5)
    finally:
        assert http.request("DELETE", faults).status == 200
    keys = [unquote_plus(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"]) for m in dead]
    assert keys == [f"{prefix}lonely.json"]
    for message in dead:
        sqs.delete_message(QueueUrl=dead_letters, ReceiptHandle=message["ReceiptHandle"])

    def left() -> list[str]:
        return [o["Key"] for o in clients["s3"].list_objects_v2(Bucket=drop, Prefix=prefix).get("Contents", [])]

    deadline = time.monotonic() + 60
    while len(left()) > 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left() == [f"{prefix}lonely.json"]  # the photo ingested; the sidecar waits for an image or a re-drive
    from annolake import Project

    creds = platform.credentials
    project = Project("demo", creds["client_id"], creds["client_secret"], platform.api_url)
    listed = project.directory.get(prefix.split("/")[1]).files()
    assert [(f.name, f.status) for f in listed] == [("photo.jpg", "ready")]


def _memory_mb(pid: int) -> tuple[int, int]:
    """(resident, peak resident) of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from /proc")
def test_a_burst_of_real_sized_photos_leaves_bodies_on_disk_not_in_memory(platform):
    """150 photo-sized JPEGs (640x480 noise, ~220 kB: they do not compress) dropped at once are all ingested, and
    the platform's peak resident memory grows by far less than their bytes would cost in memory (moto kept
    every body under 5 MB in memory, and such a burst cost ~80x the bodies)."""
    from tests.e2e.crash_burst import noise_jpeg

    count = 150
    s3 = _clients(platform)["s3"]
    drop = platform.credentials["drop_bucket"]
    bodies = [noise_jpeg(640, 480, seed=n) for n in range(count)]
    assert min(map(len, bodies)) > 150_000
    rss_before, peak_before = _memory_mb(platform.process.pid)
    prefix = f"demo/photos-{time.time_ns()}/"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: s3.put_object(Bucket=drop, Key=f"{prefix}p{n:04d}.jpg", Body=bodies[n]), range(count)))
    deadline = time.monotonic() + 180
    while s3.list_objects_v2(Bucket=drop, Prefix=prefix).get("KeyCount", 0) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert s3.list_objects_v2(Bucket=drop, Prefix=prefix).get("KeyCount", 0) == 0, "the burst was not ingested"
    rss_after, peak_after = _memory_mb(platform.process.pid)
    body_mb = sum(map(len, bodies)) / 2**20
    blobs = platform.home / "state" / "blobs"
    assert sum(p.stat().st_size for p in blobs.iterdir()) > sum(map(len, bodies))  # originals, thumbnails
    figures = f"resident {rss_before} -> {rss_after} MB, peak {peak_before} -> {peak_after} MB"
    print(f"{count} photos ({body_mb:.0f} MB): {figures}")
    assert peak_after - peak_before < 250 and rss_after - rss_before < 250, figures


def _still_running(processes: dict[str, int], timeout_s: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = {role: pid for role, pid in processes.items() if process_state(pid) not in ("", "Z")}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_kill_9_mid_burst_loses_no_acknowledged_write(own_platform, tmp_path):
    """Annotation saves, presigned uploads and dataset creations on threads; ``kill -9`` in the middle; after a
    restart over the same home every acknowledged write is there and every uploaded file got ingested.
    ``ANNOLAKE_CRASH_ROUNDS=20`` repeats the kill and restart (outside CI)."""
    from annolake import Project

    from tests.e2e.crash_burst import Burst, check_after_restart, kill_hard, noise_jpeg

    platform = own_platform.running()
    creds = platform.credentials
    project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
    dataset = project.directory.new(f"crash-{time.time_ns()}").name
    files = []
    for n in range(3):
        image = tmp_path / f"target-{n}.jpg"
        image.write_bytes(noise_jpeg(seed=n))
        files.append(project.file.from_local(image, directory=dataset))
    for round_number in range(int(os.environ.get("ANNOLAKE_CRASH_ROUNDS", "1"))):
        burst = Burst(project, [project.file.get_by_id(f.id) for f in files], dataset)
        burst.start()
        burst.wait_for(writes=30, timeout_s=60)  # then kill it in the middle of what follows
        workers = {role: pid for role, pid in platform_processes(platform.process.pid).items() if role != "platform"}
        assert any(role.startswith("function worker") for role in workers), workers
        kill_hard(platform.process.pid)
        platform.process.wait(timeout=30)
        burst.join()
        left = _still_running(workers, timeout_s=15)
        assert not left, f"worker processes outlived the killed platform: {left}"
        platform = own_platform.start_again()
        project = Project(creds["project"], creds["client_id"], creds["client_secret"], platform.api_url)
        checked = check_after_restart(project, burst.acknowledged)
        dead_letters = {url: n for url, n in platform.dead_letter_depths().items() if n}
        assert not dead_letters, f"messages dead-lettered after the restart: {dead_letters}"
        restart_s = platform.started_in_s
        print(f"crash round {round_number + 1}: {checked} acknowledged writes all present; restart {restart_s:.1f}s")


def test_ctrl_c_saves_state_and_a_restart_restores_it(own_platform):
    platform = own_platform.running()
    before = {f["file_id"]["S"] for f in _file_items(platform)}
    creds = platform.credentials
    assert platform.stop() == 0
    assert "state saved" in platform.log(), platform.log()[-3000:]
    again = own_platform.start_again()
    try:
        assert {f["file_id"]["S"] for f in _file_items(again)} == before
        assert "seeding" not in again.log()
        assert again.credentials["client_secret"] == creds["client_secret"]
        from annolake import Project

        project = Project(creds["project"], creds["client_id"], creds["client_secret"], again.api_url)
        assert project.health()["status"] == "ok"
        print(f"warm restart to healthy: {again.started_in_s:.1f}s")
    finally:
        assert again.stop() == 0


pytestmark = pytest.mark.slow
