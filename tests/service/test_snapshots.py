"""The snapshot manifest and diff rules (``domain/snapshots.py``), without a table or bucket.

The digest depends on the content only; the fixed-width index reads back what was written; the streaming diff of
two sorted manifests agrees with the obvious computation over dicts, for any pair of manifests.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from annolake_service.domain import snapshots as snap
from hypothesis import given, settings
from hypothesis import strategies as st

HEADER = snap.ManifestHeader(dataset="default", query="labels.car >= 1", schema_version=3, count=2)


def _entry(n: int, version: int = 1, **labels: int) -> snap.ManifestEntry:
    file_id = hashlib.sha256(f"f{n}".encode()).hexdigest()[:32]
    return snap.ManifestEntry(file_id, hashlib.sha256(f"m{n}".encode()).hexdigest(), version, labels)


def _manifest(header: snap.ManifestHeader, entries: list[snap.ManifestEntry]) -> bytes:
    return snap.encode_manifest(header, snap.sorted_entries(entries))


def test_the_digest_depends_on_the_content_not_on_the_order_it_was_read_in():
    a, b = _entry(1, car=2), _entry(2, 3, pedestrian=1)
    first = snap.digest(_manifest(HEADER, [a, b]))
    assert snap.digest(_manifest(HEADER, [b, a])) == first
    # a label counted 0 is the same as a label absent
    assert snap.digest(_manifest(HEADER, [_entry(1, car=2, truck=0), b])) == first
    assert snap.digest(_manifest(HEADER, [_entry(1, 2, car=2), b])) != first  # another annotation version
    other_query = snap.ManifestHeader("default", "labels.car >= 2", 3, 2)
    assert snap.digest(_manifest(other_query, [a, b])) != first
    other_schema = snap.ManifestHeader("default", "labels.car >= 1", 4, 2)
    assert snap.digest(_manifest(other_schema, [a, b])) != first


def test_the_manifest_is_canonical_json_lines_that_read_back():
    entries = snap.sorted_entries([_entry(2, 5, car=1), _entry(1, car=2, **{"traffic light": 1})])
    body = snap.encode_manifest(HEADER, entries)
    lines = body.splitlines(keepends=True)
    assert lines[0] == (
        b'{"count":2,"dataset":"default","format":"annolake-snapshot/1","query":"labels.car >= 1","schema_version":3}\n'
    )
    header, read = snap.read_manifest(io.BytesIO(body))
    assert header == HEADER and list(read) == entries
    assert [e.labels for e in snap.read_manifest(io.BytesIO(body))[1]] == [e.labels for e in entries]


def test_a_file_listed_twice_or_out_of_order_is_refused():
    with pytest.raises(snap.InvalidManifest, match="listed twice"):
        snap.sorted_entries([_entry(1), _entry(1, 2)])
    backwards = sorted([_entry(1), _entry(2)], reverse=True)
    with pytest.raises(snap.InvalidManifest, match="not in file id order"):
        snap.diff(backwards, [])
    with pytest.raises(snap.InvalidManifest, match="not a snapshot manifest"):
        snap.read_manifest([b'{"format":"other/1"}\n'])


def test_the_index_holds_fixed_width_records_any_range_of_which_reads_back():
    entries = snap.sorted_entries([_entry(n, n + 1) for n in range(7)])
    index = b"".join(snap.index_record(e) for e in entries)
    assert len(index) == 7 * snap.INDEX_RECORD
    middle = index[2 * snap.INDEX_RECORD : 5 * snap.INDEX_RECORD]
    assert snap.parse_index(middle) == [snap.Pin(e.file_id, e.sha256, e.version) for e in entries[2:5]]
    with pytest.raises(snap.InvalidManifest, match="records of"):
        snap.parse_index(index[:10])


def test_the_label_histogram_counts_files_and_instances():
    assert snap.label_histogram([_entry(1, car=2), _entry(2, car=1, bus=1), _entry(3)]) == {
        "bus": {"files": 1, "instances": 1},
        "car": {"files": 2, "instances": 3},
    }


manifests = st.dictionaries(st.integers(0, 40), st.integers(0, 3), max_size=25)  # file → annotation version


def _labels(n: int, version: int) -> dict[str, int]:
    """A version's label counts are fixed by the file and the version, as stored annotations are."""
    return {"car": (n + version) % 4, "bus": (n * version) % 3, "dog": version % 2}


@settings(max_examples=150, deadline=None)
@given(a=manifests, b=manifests, limit=st.integers(0, 30))
def test_the_streaming_diff_agrees_with_a_comparison_of_whole_dicts(a, b, limit):
    left = snap.sorted_entries(_entry(n, v, **_labels(n, v)) for n, v in a.items())
    right = snap.sorted_entries(_entry(n, v, **_labels(n, v)) for n, v in b.items())
    result = snap.diff(iter(left), iter(right), limit=limit)
    by_id_a, by_id_b = {e.file_id: e for e in left}, {e.file_id: e for e in right}
    added = sorted(set(by_id_b) - set(by_id_a))
    removed = sorted(set(by_id_a) - set(by_id_b))
    changed = sorted(i for i in set(by_id_a) & set(by_id_b) if by_id_a[i].version != by_id_b[i].version)
    assert (result.added, result.removed, result.changed) == (len(added), len(removed), len(changed))
    assert result.unchanged == len(set(by_id_a) & set(by_id_b)) - len(changed)
    assert (result.added_ids, result.removed_ids, result.changed_ids) == (
        added[:limit],
        removed[:limit],
        changed[:limit],
    )
    totals = {name: row["total"] for name, row in result.label_deltas.items()}
    before, after = snap.label_histogram(left), snap.label_histogram(right)
    expected = {
        name: after.get(name, {}).get("instances", 0) - before.get(name, {}).get("instances", 0)
        for name in {*before, *after}
    }
    assert {name: totals.get(name, 0) for name in expected} == expected and set(totals) <= set(expected)
    for row in result.label_deltas.values():
        assert row["added"] >= 0 >= row["removed"] and row["added"] + row["removed"] + row["changed"] == row["total"]


def test_digest_prefixes_are_hex_of_8_to_64_digits():
    assert snap.is_digest_prefix("0123abcd") and snap.is_digest_prefix("a" * 64)
    assert (
        not snap.is_digest_prefix("0123abc") and not snap.is_digest_prefix("v1") and not snap.is_digest_prefix("A" * 8)
    )
