"""The duplicate check of receipts the table's stream reports as changed.

A stream record carries keys only: each receipt is read as it is now (strongly consistent),
so a batch holding three changes of one receipt examines its latest state, and the later two
find nothing changed. The check writes to receipts itself (a flag, the fingerprints it
recorded); those writes come back through the stream and end there, having changed no fact
a match depends on.

An erasure may begin while a check runs, after its first look: the check writes its lookup items
unconditionally (in batches), so it asks again once done, and if the erasure has begun, deletes
every fingerprint and pair item of the account itself. The erasure writes its marker before it
sweeps, so an item written before that second look is either seen by the sweep or by this one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from receipt_vault.clock import iso_timestamp
from receipt_vault.duplicates.detector import DuplicateDetector
from receipt_vault.duplicates.store import DuplicateStore
from receipt_vault.erasure import ErasedAccounts
from receipt_vault.receipts.store import ReceiptStore


class ReceiptChecks:
    def __init__(
        self,
        receipts: ReceiptStore,
        fingerprints: DuplicateStore,
        erased: ErasedAccounts,
        detector: DuplicateDetector,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.receipts = receipts
        self.erased = erased
        self.detector = detector
        self.clock = clock
        self.fingerprints = fingerprints

    def for_one_batch(self) -> ReceiptChecks:
        """These checks for one batch of records: each user's setting is read once per batch."""
        return ReceiptChecks(self.receipts, self.fingerprints, self.erased, self.detector.for_one_request(), self.clock)

    def check(self, user_id: str, receipt_id: str) -> str:
        """Examine one changed receipt; its outcome, for the log. Raises when the check failed
        and should be retried (the stream delivers the record again)."""
        if self.erased.is_erased(user_id):
            return "erased"  # nothing may be written back into an account being erased
        receipt = self.receipts.get(user_id, receipt_id)
        if receipt is None:
            return "gone"  # expired (TTL) or erased since the change
        self.detector.examine(user_id, receipt, iso_timestamp(self.clock()))
        if self.erased.is_erased(user_id):  # it began meanwhile: take back what the check wrote
            self.fingerprints.forget_everything(user_id)
            return "erased during the check"
        return "examined"
