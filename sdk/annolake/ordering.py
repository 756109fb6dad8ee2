"""Which sample goes where, in which order: epoch shuffle, rank/worker split, resume. Pure index arithmetic.

A frozen slice of ``count`` items is cut into *blocks* of ``block_size`` consecutive items (one API page
each, so a worker fetches every page it needs exactly once and uses all of it). An epoch orders the
blocks by a seeded permutation and the items of each block by another (``seed`` and ``epoch`` decide
both, so every rank and worker computes the same order without talking to the others). Block ``j`` of the
epoch order goes to rank ``j % world_size`` and, within that rank, to worker ``(j // world_size) %
num_workers``. Every item therefore lands on exactly one (rank, worker): no duplicates, no gaps.

Resuming: ``consumed`` maps a block to how many of its items (in epoch order) were already delivered.
Blocks left with items are dealt out again by the rule above, over the *new* world size and worker
count, and each starts after its consumed items, so a resumed epoch yields exactly the rest.
``consumption`` computes that map from "each rank has seen N samples" by replaying how a PyTorch
``DataLoader`` interleaves its workers' batches (round-robin over workers that still have data).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate


@dataclass(frozen=True)
class EpochOrder:
    count: int
    block_size: int = 100
    seed: int = 0
    epoch: int = 0
    shuffle: bool = True
    consumed: dict[int, int] = field(default_factory=dict)
    # blocks of these lengths instead (a packed snapshot's shards); ``count`` is then their sum
    block_lengths: tuple[int, ...] = ()

    @property
    def block_count(self) -> int:
        return len(self.block_lengths) if self.block_lengths else -(-self.count // self.block_size)

    @cached_property
    def _starts(self) -> list[int]:
        return [0, *accumulate(self.block_lengths)]

    def _block_start(self, block: int) -> int:
        return self._starts[block] if self.block_lengths else block * self.block_size

    def _rng(self, *salt: int) -> random.Random:
        return random.Random(hash((self.seed, self.epoch, *salt)) if self.shuffle else 0)

    def blocks(self) -> list[int]:
        """Block indices in epoch order, without the fully consumed ones."""
        order = list(range(self.block_count))
        if self.shuffle:
            self._rng(-1).shuffle(order)
        return [b for b in order if self.consumed.get(b, 0) < self._block_length(b)]

    def _block_length(self, block: int) -> int:
        if self.block_lengths:
            return self.block_lengths[block]
        return min(self.block_size, self.count - block * self.block_size)

    def items(self, block: int) -> list[int]:
        """The slice offsets of a block still to deliver, in epoch order."""
        start = self._block_start(block)
        offsets = list(range(start, start + self._block_length(block)))
        if self.shuffle:
            self._rng(block).shuffle(offsets)
        return offsets[self.consumed.get(block, 0) :]

    def blocks_for(self, rank: int, world_size: int, worker: int, num_workers: int) -> list[int]:
        return [
            block
            for j, block in enumerate(self.blocks())
            if j % world_size == rank and (j // world_size) % num_workers == worker
        ]

    def offsets_for(self, rank: int, world_size: int, worker: int = 0, num_workers: int = 1) -> list[int]:
        return [o for b in self.blocks_for(rank, world_size, worker, num_workers) for o in self.items(b)]

    def remaining(self) -> int:
        return sum(len(self.items(b)) for b in self.blocks())

    def consumption(self, samples_seen: int, world_size: int, num_workers: int, batch_size: int) -> dict[int, int]:
        """``consumed`` after every rank saw ``samples_seen`` samples (ranks run in lockstep, as under DDP)."""
        consumed = dict(self.consumed)
        for rank in range(world_size):
            per_worker = [self.blocks_for(rank, world_size, w, max(num_workers, 1)) for w in range(max(num_workers, 1))]
            taken = _taken_per_worker(
                [sum(len(self.items(b)) for b in blocks) for blocks in per_worker], samples_seen, batch_size
            )
            for blocks, count in zip(per_worker, taken, strict=True):
                for block in blocks:
                    if count <= 0:
                        break
                    step = min(count, len(self.items(block)))
                    consumed[block] = consumed.get(block, 0) + step
                    count -= step
        return consumed


def _taken_per_worker(lengths: list[int], samples_seen: int, batch_size: int) -> list[int]:
    """How many samples each worker had delivered when the loader had yielded ``samples_seen`` of them.

    A ``DataLoader`` asks its workers for batches in turn and yields them in that order, skipping a
    worker once it has run dry; a worker's last batch may be short.
    """
    taken = [0] * len(lengths)
    left = samples_seen
    while left > 0 and any(t < n for t, n in zip(taken, lengths, strict=True)):
        for worker, length in enumerate(lengths):
            if left <= 0:
                break
            batch = min(batch_size, length - taken[worker], left)
            if batch > 0:
                taken[worker] += batch
                left -= batch
    return taken
