"""Epoch order, rank/worker split and resume arithmetic of the streaming SDK (annolake.ordering)."""

from __future__ import annotations

from collections import Counter

from annolake.ordering import EpochOrder, _taken_per_worker
from hypothesis import given, settings
from hypothesis import strategies as st


def _all_offsets(order: EpochOrder, world: int, workers: int) -> list[int]:
    return [o for r in range(world) for w in range(workers) for o in order.offsets_for(r, world, w, workers)]


def _loader_stream(order: EpochOrder, rank: int, world: int, workers: int, batch: int) -> list[int]:
    """What a DataLoader yields on ``rank``: its workers' batches in turn, skipping drained workers."""
    streams = [order.offsets_for(rank, world, w, workers) for w in range(workers)]
    out, position = [], [0] * workers
    while any(p < len(s) for p, s in zip(position, streams, strict=True)):
        for w, stream in enumerate(streams):
            if position[w] < len(stream):
                out += stream[position[w] : position[w] + batch]
                position[w] += batch
    return out


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(0, 700),
    block=st.integers(1, 64),
    world=st.integers(1, 4),
    workers=st.integers(1, 3),
    seed=st.integers(0, 5),
    epoch=st.integers(0, 3),
)
def test_every_item_lands_on_exactly_one_rank_and_worker(count, block, world, workers, seed, epoch):
    order = EpochOrder(count=count, block_size=block, seed=seed, epoch=epoch)
    offsets = _all_offsets(order, world, workers)
    assert sorted(offsets) == list(range(count))


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(1, 500),
    block=st.integers(1, 40),
    world=st.integers(1, 3),
    workers=st.integers(1, 3),
    batch=st.integers(1, 9),
    fraction=st.floats(0, 1),
    new_world=st.integers(1, 4),
    new_workers=st.integers(1, 3),
)
def test_resume_yields_exactly_what_was_not_seen(count, block, world, workers, batch, fraction, new_world, new_workers):
    order = EpochOrder(count=count, block_size=block, seed=11, epoch=2)
    per_rank = [_loader_stream(order, r, world, workers, batch) for r in range(world)]
    seen_each = int(min(len(s) for s in per_rank) * fraction)
    seen = [o for stream in per_rank for o in stream[:seen_each]]
    consumed = order.consumption(seen_each, world, workers, batch)
    resumed = EpochOrder(count=count, block_size=block, seed=11, epoch=2, consumed=consumed)
    rest = _all_offsets(resumed, new_world, new_workers)
    assert Counter(rest + seen) == Counter(range(count))
    assert resumed.remaining() == count - len(seen)


def test_epochs_and_seeds_shuffle_differently_and_reproducibly():
    a, b = EpochOrder(count=1000, seed=1, epoch=0), EpochOrder(count=1000, seed=1, epoch=1)
    assert a.offsets_for(0, 1) != b.offsets_for(0, 1)
    assert a.offsets_for(0, 1) == EpochOrder(count=1000, seed=1, epoch=0).offsets_for(0, 1)
    assert EpochOrder(count=10, shuffle=False, block_size=3).offsets_for(0, 1) == list(range(10))


def test_a_dataloader_takes_batches_from_its_workers_in_turn():
    assert _taken_per_worker([10, 3, 10], samples_seen=17, batch_size=4) == [8, 3, 6]


@settings(max_examples=150, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 40), min_size=0, max_size=30),
    world=st.integers(1, 3),
    workers=st.integers(1, 3),
    batch=st.integers(1, 9),
    fraction=st.floats(0, 1),
    new_world=st.integers(1, 4),
    new_workers=st.integers(1, 3),
)
def test_blocks_of_their_own_lengths_split_and_resume_exactly(
    lengths, world, workers, batch, fraction, new_world, new_workers
):
    """Packed shards: each shard a block of its own length; every sample once, each block's items its own."""
    count, lengths = sum(lengths), tuple(lengths)
    order = EpochOrder(count=count, block_lengths=lengths, seed=4, epoch=1)
    assert sorted(_all_offsets(order, world, workers)) == list(range(count))
    starts = [sum(lengths[:b]) for b in range(len(lengths))]
    for block, start in enumerate(starts):
        assert sorted(order.items(block)) == list(range(start, start + lengths[block]))
    per_rank = [_loader_stream(order, r, world, workers, batch) for r in range(world)]
    seen_each = int(min(len(s) for s in per_rank) * fraction)
    seen = [o for stream in per_rank for o in stream[:seen_each]]
    consumed = order.consumption(seen_each, world, workers, batch)
    resumed = EpochOrder(count=count, block_lengths=lengths, seed=4, epoch=1, consumed=consumed)
    assert Counter(_all_offsets(resumed, new_world, new_workers) + seen) == Counter(range(count))
