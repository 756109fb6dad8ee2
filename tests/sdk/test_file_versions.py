"""``File.update`` saves against the annotation version the object was read at: no lost updates.

Two objects read the same file; the first saves; the second's save, based on the older read, is refused with
``VersionConflict`` naming the current version, until ``refresh()``. Real API over moto.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from annolake import VersionConflict

from tests.sdk.api_stack import Stack, api_stack
from tests.support import slice_data


@pytest.fixture(scope="module")
def stack(serve_wsgi, new_moto_app) -> Iterator[Stack]:
    with api_stack(
        serve_wsgi,
        new_moto_app,
        "versions",
        lambda project: slice_data.seed_dataset(project, "default", 3, start=1),
        role="editor",
    ) as running:
        yield running


def _box(name: str, x: int) -> dict:
    return {"type": "box", "name": name, "x_min": x, "y_min": 2, "x_max": x + 10, "y_max": 20}


def test_a_save_based_on_a_stale_read_is_refused_not_applied(stack):
    project = stack.project()
    file_id = stack.file_ids[0]
    a = project.file.get_by_id(file_id)
    b = project.file.get_by_id(file_id)  # both read at version 1 (seeded with its boxes)

    a.update([_box("car", 1)])
    assert a.annotation_version == 2
    with pytest.raises(VersionConflict, match="now version 2") as conflict:
        b.update([_box("pedestrian", 30)])
    assert conflict.value.current_version == 2 and conflict.value.status == 409

    stored = project.file.get_by_id(file_id)
    assert [i["name"] for i in stored.instance_list] == ["car"]  # a's save stands

    b.refresh()  # explicit: b now holds version 2 and a's instances
    assert b.annotation_version == 2 and [i["name"] for i in b.instance_list] == ["car"]
    b.update([*b.instance_list, _box("pedestrian", 30)])
    assert b.annotation_version == 3
    assert sorted(i["name"] for i in project.file.get_by_id(file_id).instance_list) == ["car", "pedestrian"]


def test_reading_the_instances_later_takes_their_version(stack):
    """An object that shows the newer instances saves against their version: the user saw them."""
    project = stack.project()
    file_id = stack.file_ids[1]
    early = project.file.get_by_id(file_id)
    project.file.get_by_id(file_id).update([_box("car", 5)])
    assert early.annotation_version == 1
    assert [i["name"] for i in early.instance_list] == ["car"] and early.annotation_version == 2
    early.update([])
    assert early.annotation_version == 3 and project.file.get_by_id(file_id).instance_list == []
