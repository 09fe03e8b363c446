"""An execution environment's init, run with Python's cyclic garbage collector paused.

Init imports boto3, the layer and the function's code and builds its clients: some 100,000
tracked objects (modules, classes, botocore's service models) that live as long as the
environment, and next to no garbage (about 700 unreachable objects at its end, which stay).
The collector still scans every one of them each time the heap has grown by a quarter, so a
cold start spent about 30 of its 200 ms freeing nothing (bench/cold_start.py).

`begin()`, in each function package's `__init__` (the runtime imports the package before its
`app`), pauses the collector. `end()`, the last line of `app`, moves everything init made into the
permanent generation (`gc.freeze()`), which no later collection scans, and resumes collecting.
Requests' garbage is collected as before, and sooner, since the init heap is no longer rescanned.
This is the order Python's documentation gives for a process about to fork, and a SnapStart
snapshot is one: disable early, freeze before the copy, enable after.

Only during Lambda's init (the runtime sets AWS_LAMBDA_INITIALIZATION_TYPE): a test or a script
that imports a function's package keeps its collector running. An init that raises before `end()`
leaves the collector paused, in an environment that only reports its init error.
"""

from __future__ import annotations

import gc
import os

_paused_here = False


def begin() -> None:
    """Pauses the collector, in Lambda's init only."""
    global _paused_here
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") and gc.isenabled():
        gc.disable()
        _paused_here = True


def end() -> None:
    """Freezes what init made and resumes the collector that `begin()` paused."""
    global _paused_here
    if _paused_here:
        gc.freeze()
        gc.enable()
        _paused_here = False
