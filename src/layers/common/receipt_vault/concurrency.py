"""Bounded concurrency for a request's independent AWS calls.

Each task runs in a copy of the caller's context (`contextvars`): what the request set there
holds in every task, as it would in a plain loop. A worker thread would otherwise start from an
empty context.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


def map_concurrently(task: Callable[[ItemT], ResultT], items: Iterable[ItemT], max_workers: int) -> list[ResultT]:
    """`[task(item) for item in items]`, at most `max_workers` at a time, results in order. The
    first exception a task raises is raised here, once every task has finished."""
    pending = list(items)
    if len(pending) <= 1:
        return [task(item) for item in pending]
    # One copy per task: a context can be entered by one thread at a time.
    contexts = [contextvars.copy_context() for _ in pending]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(pending))) as workers:
        futures = [workers.submit(context.run, task, item) for context, item in zip(contexts, pending, strict=True)]
    return [future.result() for future in futures]
