import os
import pickle
import random
import time
from concurrent.futures import ThreadPoolExecutor

from annolake.cache import ByteCache


def _key(n: int) -> tuple[str, str]:
    return (f"file-{n}", f"hash-{n}")


def _entries(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def _on_disk(directory) -> int:
    return sum(os.path.getsize(os.path.join(directory, name)) for name in _entries(directory))


def test_memory_bound_holds_under_many_puts():
    cache = ByteCache(memory_bytes=10_000)
    rng = random.Random(7)
    for n in range(500):
        cache.put(_key(n), bytes(rng.randrange(1, 3_000)))
        assert cache.memory_size <= 10_000
    held = [n for n in range(500) if _key(n) in cache]
    assert held and held[-1] == 499  # the newest is kept
    assert sum(len(cache.get(_key(n))) for n in held) == cache.memory_size


def test_memory_evicts_least_recently_used():
    cache = ByteCache(memory_bytes=30)
    for name in "abc":
        cache.put((name, "h"), name.encode() * 10)
    assert cache.get(("a", "h")) == b"a" * 10  # a becomes the most recent
    cache.put(("d", "h"), b"d" * 10)
    assert ("b", "h") not in cache
    assert [name for name in "acd" if (name, "h") in cache] == ["a", "c", "d"]
    assert cache.memory_size == 30


def test_item_larger_than_memory_bound_is_not_kept_in_memory():
    cache = ByteCache(memory_bytes=100)
    cache.put(_key(1), b"x" * 50)
    cache.put(_key(2), b"y" * 101)
    assert cache.get(_key(2)) is None
    assert cache.get(_key(1)) == b"x" * 50  # nothing was evicted to make room for it
    assert cache.memory_size == 50


def test_same_id_with_another_content_hash_is_another_entry():
    cache = ByteCache(memory_bytes=1000)
    cache.put(("f", "v1"), b"old")
    cache.put(("f", "v2"), b"new")
    assert cache.get(("f", "v1")) == b"old" and cache.get(("f", "v2")) == b"new"


def test_disk_survives_a_new_cache_over_the_same_directory(tmp_path):
    first = ByteCache(memory_bytes=1000, disk_dir=tmp_path, disk_bytes=10_000)
    first.put(_key(1), b"one" * 10)
    first.put(_key(2), b"two" * 10)
    assert len(_entries(tmp_path)) == 2

    second = ByteCache(memory_bytes=1000, disk_dir=tmp_path, disk_bytes=10_000)
    assert second.memory_size == 0 and second.disk_size == first.disk_size == _on_disk(tmp_path)
    assert _key(1) in second
    assert second.get(_key(1)) == b"one" * 10
    assert second.memory_size == 30  # the disk hit was promoted to memory
    assert second.get(_key(3)) is None


def test_disk_file_names_do_not_reveal_the_key(tmp_path):
    cache = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=10_000)
    cache.put(("file-secret", "hash"), b"data")
    [name] = _entries(tmp_path)
    assert len(name) == 64 and "secret" not in name


def test_disk_bound_is_kept_and_oldest_access_goes_first(tmp_path):
    cache = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=1_000)
    for n in range(20):
        cache.put(_key(n), bytes(200))
        assert cache.disk_size <= 1_000
        assert _on_disk(tmp_path) == cache.disk_size
    assert len(_entries(tmp_path)) == 4  # each entry is 200 bytes and a small header
    assert cache.get(_key(16)) == bytes(200)  # read from disk: 16 is now the most recent
    cache.put(_key(20), bytes(200))
    assert [n for n in range(21) if _key(n) in cache] == [16, 18, 19, 20]


def test_new_cache_trims_directory_to_its_bound_keeping_recent_reads(tmp_path):
    writer = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=10_000)
    for n in range(5):
        writer.put(_key(n), bytes(100))
        time.sleep(0.01)  # distinct modification times
    assert writer.get(_key(0)) is not None  # touched: the most recently used now

    smaller = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=250)
    assert smaller.disk_size <= 250 and _on_disk(tmp_path) == smaller.disk_size
    assert [n for n in range(5) if _key(n) in smaller] == [0, 4]


def test_item_larger_than_disk_bound_is_not_written(tmp_path):
    cache = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=100)
    cache.put(_key(1), bytes(500))
    assert _entries(tmp_path) == [] and cache.disk_size == 0


def test_corrupt_disk_entry_is_a_miss_and_is_removed(tmp_path):
    cache = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=10_000)
    cache.put(_key(1), b"a" * 100)
    cache.put(_key(2), b"b" * 100)
    for name in _entries(tmp_path):  # damage both: one truncated, one with a flipped byte
        path = tmp_path / name
        raw = path.read_bytes()
        path.write_bytes(raw[:50] if raw.endswith(b"a") else raw[:-1] + b"X")

    reopened = ByteCache(memory_bytes=1000, disk_dir=tmp_path, disk_bytes=10_000)
    assert reopened.get(_key(1)) is None
    assert reopened.get(_key(2)) is None
    assert _entries(tmp_path) == [] and reopened.disk_size == 0 and reopened.memory_size == 0
    reopened.put(_key(1), b"a" * 100)  # and the entry can be written again
    assert ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=10_000).get(_key(1)) == b"a" * 100


def test_unreadable_disk_entry_is_a_miss(tmp_path):
    cache = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=10_000)
    cache.put(_key(1), b"a" * 100)
    [name] = _entries(tmp_path)
    os.remove(tmp_path / name)
    os.mkdir(tmp_path / name)  # opening it fails with an OSError other than "not found"
    assert cache.get(_key(1)) is None


def test_entries_written_by_another_process_are_found(tmp_path):
    reader = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=10_000)
    ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=10_000).put(_key(1), b"shared")
    assert _key(1) in reader
    assert reader.get(_key(1)) == b"shared"
    assert reader.disk_size == _on_disk(tmp_path)


def test_directory_is_left_alone_without_a_disk_bound(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    cache = ByteCache(memory_bytes=100, disk_dir=tmp_path, disk_bytes=0)
    cache.put(_key(1), b"x")
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_other_files_in_the_directory_are_not_counted_or_evicted(tmp_path):
    (tmp_path / "notes.txt").write_text("mine" * 1000)
    cache = ByteCache(memory_bytes=0, disk_dir=tmp_path, disk_bytes=300)
    for n in range(5):
        cache.put(_key(n), bytes(100))
    assert (tmp_path / "notes.txt").exists()
    assert cache.disk_size <= 300


def test_pickled_copy_starts_with_empty_memory_and_reuses_disk(tmp_path):
    cache = ByteCache(memory_bytes=1000, disk_dir=tmp_path, disk_bytes=10_000)
    cache.put(_key(1), b"one")
    copy = pickle.loads(pickle.dumps(cache))
    assert (copy.memory_bytes, copy.disk_dir, copy.disk_bytes) == (1000, str(tmp_path), 10_000)
    assert copy.memory_size == 0 and copy.disk_size == cache.disk_size
    assert copy.get(_key(1)) == b"one"
    copy.put(_key(2), b"two")  # the lock was recreated
    assert cache.get(_key(2)) == b"two"


def test_pickled_memory_only_cache():
    cache = ByteCache(memory_bytes=100)
    cache.put(_key(1), b"one")
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.get(_key(1)) is None
    copy.put(_key(1), b"one")
    assert copy.get(_key(1)) == b"one"


def test_bounds_hold_when_filled_from_many_threads(tmp_path):
    cache = ByteCache(memory_bytes=5_000, disk_dir=tmp_path, disk_bytes=20_000)

    def work(n: int) -> None:
        cache.put(_key(n % 150), bytes([n % 251]) * (50 + n % 400))
        data = cache.get(_key((n * 7) % 150))
        assert data is None or len(set(data)) == 1

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(1_500)))
    assert 0 < cache.memory_size <= 5_000
    assert 0 < cache.disk_size <= 20_000
    assert _on_disk(tmp_path) == cache.disk_size
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no temp files left
