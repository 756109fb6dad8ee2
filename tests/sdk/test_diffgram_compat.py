"""A user's Diffgram streaming code runs on Annolake with only the import changed.

``AdjustForRCNN`` is the transform of the seed document's notebook, copied as written there except for
``diffgram`` -> ``annolake``: it reads ``sample['diffgram_file'].id`` (an int), ``.client`` (the project),
``project.get_label_file_dict(use_session = False)`` and ``coco_project.name_to_file_id``. The samples come
from the real API over moto and train a torchvision detector (no weights downloaded) for a few steps.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterator

import pytest

from tests.sdk.api_stack import Stack, api_stack
from tests.support import slice_data

torch = pytest.importorskip("torch")
try:
    import torchvision
    import torchvision.transforms as T  # noqa: N812 - the notebook's name
except (ImportError, RuntimeError, OSError) as error:  # a torchvision built for another torch fails to load its ops
    torchvision = T = None
    TORCHVISION_MISSING = f"torchvision does not load: {error}"
else:
    TORCHVISION_MISSING = ""

COUNT = 12
pytestmark = pytest.mark.slow  # trains a torchvision detector, with DataLoader worker processes
coco_project = None  # the notebook's global: set to the project before the dataset is read


# fmt: off
class AdjustForRCNN:
    """
    Adjust a sample from the Diffgram SDK generated pytorch Dataset to be used for the RCNN model.
    """

    def __call__(self, sample):
        result = []
        image = sample['image']
        image_id = torch.tensor([sample['diffgram_file'].id])
        project = sample['diffgram_file'].client
        project.get_label_file_dict(use_session = False)
        label_id_name_map = coco_project.name_to_file_id
        label_id_list = [val for k, val in label_id_name_map.items()]
        result.append(image)
        boxes_array = []
        for i in range(len(sample['x_min_list'])):
            # Let's build the box array with the shape
            # [x_min,y_min,x_max, y_max]
            boxes_array.append([
                sample['x_min_list'][i],
                sample['y_min_list'][i],
                sample['x_max_list'][i],
                sample['y_max_list'][i],
            ])
        boxes = torch.as_tensor(boxes_array, dtype = torch.float32)
        num_objs = len(boxes_array)
        labels_list = sample['label_id_list']
        label_numbers_list = [label_id_list.index(x) for x in labels_list]
        labels = torch.as_tensor(label_numbers_list, dtype = torch.int64)
        if num_objs > 0:
            area = (boxes[:, 3] - boxes[:, 1]) * (boxes[:, 2] - boxes[:, 0])
        else:
            area = torch.as_tensor([], dtype = torch.float32)
        # suppose all instances are not crowd for this tutorial
        iscrowd = torch.zeros((num_objs,), dtype = torch.int64)
        target = {}
        target["boxes"] = boxes
        target["labels"] = labels
        target["image_id"] = image_id
        target["area"] = area
        target["iscrowd"] = iscrowd
        result.append(target)
        image = result[0]
        target = result[1]
        return image, target
# fmt: on


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    # Files 1..12: each has at least one box (file 0 has none, and an empty target is no RCNN input).
    with api_stack(
        serve_wsgi, new_moto_app, "coco", lambda project: slice_data.seed_dataset(project, "default", COUNT, start=1)
    ) as running:
        yield running


def _compose(transforms):
    """``T.Compose``, or the same composition where torchvision does not load."""
    if T is not None:
        return T.Compose(transforms)

    def composed(sample):
        for transform in transforms:
            sample = transform(sample)
        return sample

    return composed


def _image_tensor(image):
    """H×W×3 uint8 → 3×H×W float in [0, 1], as ``T.ToTensor()`` makes it."""
    return torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255


def _detection_batch(batch):
    images, targets = zip(*batch, strict=True)
    return [_image_tensor(image) for image in images], list(targets)


@pytest.fixture
def pytorch_ready_dataset(stack):
    """The notebook's dataset, with ``coco_project`` set as the notebook does."""
    global coco_project
    project = stack.project()
    coco_project = project
    yield project.directory.get("default").to_pytorch(transform=_compose([AdjustForRCNN()]))
    coco_project = None


def test_the_notebook_transform_maps_samples_in_worker_processes(stack, pytorch_ready_dataset):
    assert len(pytorch_ready_dataset) == COUNT
    image, target = pytorch_ready_dataset[7]
    assert image.shape == (48, 64, 3) and target["image_id"].tolist() == [7]
    assert coco_project.name_to_file_id == {"car": 0, "pedestrian": 1}

    loader = torch.utils.data.DataLoader(
        pytorch_ready_dataset, batch_size=5, num_workers=2, collate_fn=_detection_batch
    )
    targets = [target for _, batch in loader for target in batch]
    assert [int(t["image_id"]) for t in targets] == list(range(COUNT))
    for position, target in enumerate(targets):
        i = 1 + stack.file_ids.index(pytorch_ready_dataset.slice.page(position, 1)["items"][0]["file"]["id"])
        expected = [0] * slice_data.cars(i) + [1] * slice_data.pedestrians(i)
        assert target["labels"].tolist() == expected
        assert target["boxes"].shape == (len(expected), 4) and bool((target["area"] > 0).all())
        assert target["iscrowd"].tolist() == [0] * len(expected)


@pytest.mark.skipif(bool(TORCHVISION_MISSING), reason=TORCHVISION_MISSING[:300])
def test_the_notebook_transform_trains_a_detector(pytorch_ready_dataset):
    loader = torch.utils.data.DataLoader(
        pytorch_ready_dataset, batch_size=4, shuffle=True, num_workers=2, collate_fn=_detection_batch
    )
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, num_classes=len(coco_project.name_to_file_id) + 1
    )
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)
    torch.manual_seed(0)
    image_ids, losses = [], []
    for images, targets in loader:  # 12 files, batches of 4: three optimisation steps
        loss = sum(model(images, targets).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        image_ids += [int(t["image_id"]) for t in targets]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses)
    assert sorted(image_ids) == list(range(COUNT))  # ids are the samples' positions: unique, all of them


def test_a_samples_diffgram_file_names_the_file_and_pickles_with_its_project(stack):
    project = stack.project()
    dataset = project.directory.get("default")
    sample = dataset[3]
    file = sample["diffgram_file"]
    assert file.id == 3 and file.id == sample["index"]
    assert file.file_id == sample["file"]["id"] and file.file_id in stack.file_ids
    assert file.client is project

    copy = pickle.loads(pickle.dumps(file))  # as when a sample crosses into or out of a worker process
    assert (copy.id, copy.file_id) == (3, file.file_id)
    assert copy.client is not project and copy.client.project_string_id == "coco"
    assert copy.client.get_label_file_dict(use_session=False) == {"car": 0, "pedestrian": 1}
    # the next batch from a worker: its samples share the copy this process already made, not a project each
    again = pickle.loads(pickle.dumps([file, dataset[4]["diffgram_file"]]))
    assert again[0].client is again[1].client is copy.client and again[0] == copy

    # A dataset pickled whole (spawned workers) reads samples whose project is the copy's own.
    torch_dataset = pickle.loads(pickle.dumps(dataset.to_pytorch()))
    copied_sample = torch_dataset[3]
    assert copied_sample["diffgram_file"].file_id == file.file_id
    assert copied_sample["diffgram_file"].client.name_to_file_id == {"car": 0, "pedestrian": 1}
