"""Frames mode: ``Slice.to_pytorch(frames=True)`` over a slice holding videos made with PyAV and ingested by the
ingest steps, each with a keyframed box track, read through the real API into real DataLoader worker processes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from tests.sdk.api_stack import Stack, api_stack
from tests.support import slice_data
from tests.support.video_fixtures import read_pattern
from tests.support.video_slice import seed_tracked_videos

torch = pytest.importorskip("torch")
pytest.importorskip("av")

LENGTHS = [70, 40]  # the first: three chunks of 32, the last one short
IMAGES = 3


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    def seed(project: str) -> list[str]:
        videos = seed_tracked_videos(project, "clips", LENGTHS)
        _tag_frames(project, videos[0])
        return videos + slice_data.seed_dataset(project, "clips", IMAGES)

    with api_stack(serve_wsgi, new_moto_app, "frames", seed) as running:
        yield running


SHAKY = {"cause": "motion", "severity": 2}  # the first video's frames 5..9


def _tag_frames(project: str, video: str) -> None:
    from annolake_service.domain.schema import AttributeGroup
    from annolake_service.services import annotations, schema

    schema.add_labels(project, ["shaky"])
    schema.add_attribute_group(project, AttributeGroup(name="cause", kind="select", options=["motion", "focus"]))
    schema.add_attribute_group(project, AttributeGroup(name="severity", kind="number", label_names=["shaky"]))
    current = annotations.get_annotations(project, video)
    tag = {"type": "frame_tag", "name": "shaky", "frame_start": 5, "frame_end": 9, "attributes": SHAKY}
    annotations.save_annotations(
        project,
        video,
        expected_version=current["version"],
        instance_list=[*current["instance_list"], tag],
        author="seed",
    )


def _videos(stack: Stack) -> list[str]:
    return stack.file_ids[: len(LENGTHS)]


def _every_frame(stack: Stack) -> list[tuple[str, int]]:
    return [(video, f) for video, n in zip(_videos(stack), LENGTHS, strict=True) for f in range(n)]


def _clips(stack: Stack):
    from annolake.slices import Slice

    return Slice(stack.project(), "clips")


def _server_boxes(project, file_id: str, frame_count: int) -> dict[int, list[tuple[int, list[float]]]]:
    """Frame → (track id, box) of each box the one-frame route answers: the server's interpolation."""
    shown = {}
    for frame in range(frame_count):
        answer = project.client.get(f"{project._path}/files/{file_id}/frames/{frame}/annotations")
        shown[frame] = [
            (i["track_id"], [i[k] for k in ("x_min", "y_min", "x_max", "y_max")])
            for i in answer["instance_list"]
            if i["type"] == "box"
        ]
    return shown


def test_a_frame_range_answers_each_frames_annotations_and_the_chunks_holding_them(stack):
    from annolake import InvalidRequest

    project = stack.project()
    video = stack.file_ids[0]
    path = f"{project._path}/files/{video}/frames"
    answer = project.client.get(path, start=20, count=40)
    assert [f["frame"] for f in answer["frames"]] == list(range(20, 60))
    assert [c["first_frame"] for c in answer["chunks"]] == [0, 32]
    for shown in answer["frames"][::7]:
        single = project.client.get(f"{path}/{shown['frame']}/annotations")
        assert shown["instance_list"] == single["instance_list"]
    clipped = project.client.get(path, start=64, count=32)
    assert [f["frame"] for f in clipped["frames"]] == list(range(64, 70)) and len(clipped["chunks"]) == 1
    with pytest.raises(InvalidRequest, match="past the video's end"):
        project.client.get(path, start=70)
    image = stack.file_ids[-1]
    with pytest.raises(InvalidRequest, match="not a video"):
        project.client.get(f"{project._path}/files/{image}/frames")


def test_two_workers_yield_every_frame_once_with_the_servers_interpolated_box(stack):
    from annolake.torch_data import SliceLoader

    project = stack.project()
    dataset = _clips(stack).to_pytorch(frames=True, streaming=True, seed=3, page_size=48)
    assert len(dataset) == sum(LENGTHS)  # the images are skipped
    loader = SliceLoader(dataset, batch_size=8, num_workers=2)
    expected = {video: _server_boxes(project, video, n) for video, n in zip(_videos(stack), LENGTHS, strict=True)}
    seen: Counter = Counter()
    for batch in loader:
        for image, boxes, tracks, file, frame in zip(
            batch["images"], batch["boxes"], batch["track_ids"], batch["files"], batch["frames"], strict=True
        ):
            seen[file["id"], frame] += 1
            assert image.dtype == torch.uint8 and tuple(image.shape) == (3, 48, 128)
            assert read_pattern(image.permute(1, 2, 0).numpy()) == frame  # the frame's own picture
            got = list(zip(tracks.tolist(), boxes.tolist(), strict=True))
            want = expected[file["id"]][frame]
            assert [t for t, _ in got] == [t for t, _ in want]
            for (_, box), (_, server) in zip(got, want, strict=True):
                assert box == pytest.approx(server, abs=1e-4)  # float32 of the server's float
    assert seen == Counter(_every_frame(stack))


def test_the_map_style_frames_dataset_indexes_videos_then_frames_and_resumes(stack):
    from annolake.torch_data import SliceLoader

    frames = _clips(stack).to_pytorch(frames=True)
    assert len(frames) == sum(LENGTHS)
    videos = frames.slice.videos  # in the frozen slice's order
    assert [v["offset"] for v in videos] == sorted(v["offset"] for v in videos)
    first_id, second_id = (v["file"]["id"] for v in videos)
    first_length = dict(zip(_videos(stack), LENGTHS, strict=True))[first_id]
    first, last = frames[first_length - 1], frames[first_length]
    assert (first["file_id"], first["frame"]) == (first_id, first_length - 1)
    assert (last["file_id"], last["frame"]) == (second_id, 0)
    assert isinstance(last["image"], np.ndarray) and read_pattern(last["image"]) == 0
    assert last["track_id_list"] == [10 + _videos(stack).index(second_id)]

    stream = _clips(stack).to_pytorch(frames=True, streaming=True, seed=1, page_size=32)
    loader = SliceLoader(stream, batch_size=5, num_workers=2)
    before = []
    for batch in loader:
        before += list(zip([f["id"] for f in batch["files"]], batch["frames"], strict=True))
        if len(before) >= 40:
            break
    state = loader.state_dict()
    from annolake.slices import Slice

    frozen = Slice(stack.project(), "clips", slice_id=state["slice_id"])
    again = frozen.to_pytorch(frames=True, streaming=True, seed=1, page_size=32)
    again.load_state_dict(state)
    after = [
        (f["id"], n)
        for batch in SliceLoader(again, batch_size=5, num_workers=2)
        for f, n in zip(batch["files"], batch["frames"], strict=True)
    ]
    assert sorted(before + after) == sorted(_every_frame(stack))


def test_clips_of_consecutive_frames_cover_each_video_once_with_the_servers_boxes(stack):
    from annolake.torch_data import SliceLoader

    project = stack.project()
    clip = 16
    dataset = _clips(stack).to_pytorch(frames=True, clip=clip, streaming=True, seed=5, page_size=2)
    assert len(dataset) == sum(n // clip for n in LENGTHS)  # 4 + 2: each video's last frames, under 16, left out
    expected = {video: _server_boxes(project, video, n) for video, n in zip(_videos(stack), LENGTHS, strict=True)}
    starts = Counter()
    for batch in SliceLoader(dataset, batch_size=2, num_workers=2):
        for images, boxes, tracks, frames, file in zip(
            batch["images"], batch["boxes"], batch["track_ids"], batch["frames"], batch["files"], strict=True
        ):
            assert tuple(images.shape) == (clip, 3, 48, 128) and images.dtype == torch.uint8
            assert frames == list(range(frames[0], frames[0] + clip)) and frames[0] % clip == 0
            starts[file["id"], frames[0]] += 1
            for image, frame_boxes, frame_tracks, frame in zip(images, boxes, tracks, frames, strict=True):
                assert read_pattern(image.permute(1, 2, 0).numpy()) == frame
                want = expected[file["id"]][frame]
                assert frame_tracks.tolist() == [t for t, _ in want]
                assert frame_boxes.tolist() == [pytest.approx(b, abs=1e-4) for _, b in want]
    everyone = [(v, s) for v, n in zip(_videos(stack), LENGTHS, strict=True) for s in range(0, n - clip + 1, clip)]
    assert starts == Counter(everyone)
    with pytest.raises(ValueError, match="pass frames=True"):
        _clips(stack).to_pytorch(clip=4)


def test_a_frames_sample_carries_the_frame_tags_covering_it_with_their_attributes(stack):
    from annolake.torch_data import SliceLoader

    frames = _clips(stack).to_pytorch(frames=True)
    tagged = stack.file_ids[0]
    first = next(frames.slice.starts[n] for n, v in enumerate(frames.slice.videos) if v["file"]["id"] == tagged)
    shaky = frames.slice.label_ids["shaky"]
    expected = [{"label_name": "shaky", "label_id": shaky, "attributes": SHAKY, "frame_start": 5, "frame_end": 9}]
    for frame in range(4, 11):
        sample = frames[first + frame]
        assert (sample["file_id"], sample["frame"]) == (tagged, frame)
        assert sample["frame_tags"] == (expected if 5 <= frame <= 9 else []), frame

    stream = _clips(stack).to_pytorch(frames=True, streaming=True, seed=2, page_size=32)
    seen = {}
    for batch in SliceLoader(stream, batch_size=8, num_workers=2):
        for file, frame, tags in zip(batch["files"], batch["frames"], batch["frame_tags"], strict=True):
            seen[file["id"], frame] = tags
    assert {key for key, tags in seen.items() if tags} == {(tagged, f) for f in range(5, 10)}
    assert seen[tagged, 7] == expected
    clips = _clips(stack).to_pytorch(frames=True, clip=8, streaming=True, seed=2, page_size=2)
    for batch in SliceLoader(clips, batch_size=2, num_workers=0):
        for file, numbers, tags in zip(batch["files"], batch["frames"], batch["frame_tags"], strict=True):
            if file["id"] == tagged and numbers[0] == 0:
                assert [bool(t) for t in tags] == [False] * 5 + [True] * 3
