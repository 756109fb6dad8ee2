from datetime import UTC, datetime

import pytest
from annolake_service.domain.annotations import AnnotationTooLarge, apply_save, initial_instances

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _polygons(count: int, points: int) -> list[dict]:
    outline = [{"x": float(i % 400), "y": float(i * 7 % 300)} for i in range(points)]
    return [{"type": "polygon", "name": "road", "points": outline} for _ in range(count)]


def _save(current: list[dict], incoming: list[dict], version: int = 0):
    return apply_save(
        current_version=version,
        current_instances=current,
        expected_version=version,
        incoming=incoming,
        author="key:k",
        now=NOW,
    )


def test_a_version_that_fits_is_saved_and_one_that_does_not_names_the_limit_and_the_fix():
    fits = _save([], _polygons(34, 400))  # ~ 340 KB stored
    assert len(fits.instance_list) == 34
    with pytest.raises(AnnotationTooLarge, match=r"at most 350 KB of instances: use fewer polygon points"):
        _save([], _polygons(40, 400))
    with pytest.raises(AnnotationTooLarge, match="at most 350 KB"):
        initial_instances(_polygons(40, 400), author="ingest:drop", now=NOW)  # pre-labels too


def test_a_save_that_only_overflows_with_what_it_removes_says_to_split_it():
    current = _save([], _polygons(20, 400)).instance_list
    replacement = _polygons(20, 401)
    with pytest.raises(AnnotationTooLarge, match="remove instances in one save and add the new ones in the next"):
        _save(current, replacement, version=1)
    emptied = _save(current, [], version=1)  # what the message says to do: remove first…
    assert emptied.instance_list == [] and len(emptied.deleted) == 20
    assert len(_save([], replacement, version=2).instance_list) == 20  # …then add
