"""``detection_collate``: what a training loop receives per batch, also across DataLoader worker processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from annolake.torch_data import detection_collate
from torch.utils.data import DataLoader, Dataset


def _sample(index: int, *, decode: bool) -> dict:
    boxes = [(index + k, 2 * k, index + k + 10, 2 * k + 5) for k in range(index % 4)]  # 0..3 boxes
    sample = {
        "x_min_list": [b[0] for b in boxes],
        "y_min_list": [b[1] for b in boxes],
        "x_max_list": [b[2] for b in boxes],
        "y_max_list": [b[3] for b in boxes],
        "label_id_list": [(index + k) % 3 for k in range(len(boxes))],
        "file": {"id": f"f{index}", "name": f"{index}.jpg"},
        "index": index,
    }
    if decode:
        sample["image"] = np.random.default_rng(index).integers(0, 255, (4 + index, 6, 3), dtype=np.uint8)
    else:
        sample["image_bytes"] = bytes([index]) * 10
    return sample


class Samples(Dataset):
    def __init__(self, decode: bool) -> None:
        self.decode = decode

    def __len__(self) -> int:
        return 24

    def __getitem__(self, index: int) -> dict:
        return _sample(index, decode=self.decode)


def _check(batch: dict, *, decode: bool) -> None:
    for position, index in enumerate(batch["index"]):
        expected = _sample(index, decode=decode)
        corners = list(
            zip(expected["x_min_list"], expected["y_min_list"], expected["x_max_list"], expected["y_max_list"])
        )
        boxes, labels = batch["boxes"][position], batch["labels"][position]
        assert boxes.dtype == torch.float32 and boxes.shape == (len(corners), 4)
        assert boxes.tolist() == [list(map(float, c)) for c in corners]
        assert labels.dtype == torch.int64 and labels.tolist() == expected["label_id_list"]
        assert batch["files"][position] == expected["file"]
        image = batch["images"][position]
        if decode:
            assert image.shape == (3, 4 + index, 6) and image.dtype == torch.uint8
            assert np.array_equal(image.permute(1, 2, 0).numpy(), expected["image"])
        else:
            assert image == expected["image_bytes"]


@pytest.mark.parametrize("decode", [True, False])
def test_boxes_labels_and_images_stay_with_their_sample(decode):
    batch = detection_collate([_sample(i, decode=decode) for i in (0, 1, 2, 3, 4, 8)])  # 0 boxes at 0, 4, 8
    assert [len(b) for b in batch["boxes"]] == [0, 1, 2, 3, 0, 0]
    _check(batch, decode=decode)


@pytest.mark.parametrize("decode", [True, False])
def test_batches_arrive_intact_from_worker_processes(decode):
    loader = DataLoader(Samples(decode), batch_size=5, num_workers=2, collate_fn=detection_collate)
    seen = []
    for batch in loader:
        _check(batch, decode=decode)
        seen += batch["index"]
    assert sorted(seen) == list(range(24))


@pytest.mark.filterwarnings("error")  # torch warns about read-only arrays; a decoded JPEG is one
def test_a_read_only_flipped_view_from_a_transform_is_collated_as_it_looks():
    sample = _sample(5, decode=True)
    sample["image"].setflags(write=False)
    sample["image"] = sample["image"][:, ::-1]  # a negative-stride view, as np.fliplr makes
    (image,) = detection_collate([sample])["images"]
    assert np.array_equal(image.permute(1, 2, 0).numpy(), sample["image"])
