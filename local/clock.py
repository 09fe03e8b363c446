"""The local stack's clock: the functions' own clock (`receipt_vault.clock`), for every part.

`CLOCK_OFFSET_DAYS=N` in the stack's environment moves "now" N days for all of it at once:
- the functions, which inherit the variable and read it through `utc_now()`;
- the gateway's token checks (`exp`, `nbf`) and the request time in its proxy events;
- the tokens the emulated Cognito issues (`iat`, `auth_time`, `exp`);
- the schedules, and the instant of a run fired on demand;
- what `/_local/config` reports as the stack's `now`, for scripts and the example client.

TOTP codes stay on the real clock: the authenticator app on the phone runs on it.
libfaketime cannot do this job: it makes timed thread waits hang, and the stack waits on
queues and schedules with timeouts.
"""

from __future__ import annotations

import time as _real_time
import types

from receipt_vault.clock import CLOCK_OFFSET_VARIABLE, clock_offset, iso_timestamp, utc_now

__all__ = [
    "CLOCK_OFFSET_VARIABLE",
    "clock_offset",
    "epoch_seconds",
    "iso_timestamp",
    "shift_emulated_cognito",
    "utc_now",
]


def epoch_seconds() -> float:
    """`time.time()` on the stack's clock."""
    return _real_time.time() + clock_offset().total_seconds()


class _ShiftedTime(types.ModuleType):
    """The `time` module as moto's Cognito models see it: only `time()` is moved."""

    def __init__(self) -> None:
        super().__init__("time")

    def __getattr__(self, name: str) -> object:
        return getattr(_real_time, name)

    @staticmethod
    def time() -> float:
        return epoch_seconds()


def shift_emulated_cognito() -> None:
    """Make moto's user pools issue tokens on the stack's clock. moto reads `time.time()` in
    `cognitoidp.models` only to stamp tokens; the patch is process-wide and idempotent."""
    from moto.cognitoidp import models

    # moto's module imports `time` without re-exporting it; the patch swaps that module.
    if not isinstance(models.time, _ShiftedTime):  # type: ignore[attr-defined]
        models.time = _ShiftedTime()  # type: ignore[attr-defined]
