"""map_concurrently: results in order, bounded parallelism, the caller's context in every task."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from receipt_vault.concurrency import map_concurrently

REQUEST = contextvars.ContextVar("request", default="none")


def test_results_keep_the_order_of_the_items() -> None:
    def slower_first(number: int) -> int:
        time.sleep(0.002 * (10 - number))
        return number * number

    assert map_concurrently(slower_first, range(10), max_workers=4) == [number * number for number in range(10)]


def test_tasks_overlap_but_never_beyond_the_bound() -> None:
    lock = threading.Lock()
    active = peak = 0

    def task(_: int) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.01)  # a round trip: the GIL is free meanwhile
        with lock:
            active -= 1

    map_concurrently(task, range(12), max_workers=3)
    assert peak == 3


def test_every_task_sees_the_callers_context() -> None:
    REQUEST.set("request-1")
    assert map_concurrently(lambda _: REQUEST.get(), range(5), max_workers=5) == ["request-1"] * 5


def test_a_task_that_fails_fails_the_call_after_the_others_finished() -> None:
    finished: list[int] = []

    def task(number: int) -> int:
        if number == 1:
            raise ValueError("item 1")
        time.sleep(0.005)
        finished.append(number)
        return number

    with pytest.raises(ValueError, match="item 1"):
        map_concurrently(task, range(6), max_workers=3)
    assert sorted(finished) == [0, 2, 3, 4, 5]


def test_one_item_runs_in_the_callers_thread() -> None:
    assert map_concurrently(lambda _: threading.current_thread(), [0], max_workers=8) == [threading.current_thread()]
