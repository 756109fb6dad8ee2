"""What a process keeps of a read: lists handed out one item at a time (a window of a task queue)."""

from __future__ import annotations

import threading

from annolake_service.shared.kept import KeptLists


def _all(kept: KeptLists, key: str, **options) -> list:
    taken = []
    while (item := kept.take(key, lambda _: True, **options)) is not None:
        taken.append(item)
    return taken


def test_preferred_items_go_first_and_the_rest_only_to_a_caller_that_just_read_them():
    kept = KeptLists(1.0, prefer=lambda item: item.startswith("mine"))
    kept.keep("queue", ["mine-1", "theirs-1", "mine-2", "theirs-2"])
    assert sorted(_all(kept, "queue")) == ["mine-1", "mine-2"]  # the others are left to their process
    assert sorted(_all(kept, "queue", settle=True)) == ["theirs-1", "theirs-2"]


def test_a_list_with_nothing_preferred_hands_out_anything():
    kept = KeptLists(1.0, prefer=lambda item: item.startswith("mine"))
    kept.keep("queue", ["theirs-1", "theirs-2"])
    assert sorted(_all(kept, "queue")) == ["theirs-1", "theirs-2"]


def test_an_item_handed_out_is_left_out_of_a_list_read_again_until_it_is_old():
    clock = [0.0]
    kept = KeptLists(1.0, timer=lambda: clock[0])
    kept.keep("queue", ["a"])
    assert kept.take("queue", lambda _: True) == "a"
    kept.keep("queue", ["a", "b"])  # read before the use of "a" took effect
    assert _all(kept, "queue") == ["b"]
    clock[0] += 1.0
    kept.keep("queue", ["a"])
    assert _all(kept, "queue") == ["a"]


def test_an_item_whose_use_was_refused_is_kept_from_a_list_read_again():
    kept = KeptLists(1.0)
    kept.keep("queue", ["a", "b"])
    taken = kept.take("queue", lambda item: item == "a")
    kept.refused(taken)  # not for this caller: the next may take it
    kept.keep("queue", ["a", "b"])
    assert sorted(_all(kept, "queue")) == ["a", "b"]


def test_callers_that_find_nothing_wait_for_one_read():
    kept = KeptLists(1.0)
    reads, started = [], threading.Barrier(4)

    def claim() -> None:
        started.wait()
        if kept.take("queue", lambda _: True) is None:
            with kept.reading("queue") as read:
                if read:
                    reads.append(1)
                    threading.Event().wait(0.2)  # the read takes a while; the others arrive meanwhile
                    kept.keep("queue", ["a", "b", "c", "d"])

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads == [1]
