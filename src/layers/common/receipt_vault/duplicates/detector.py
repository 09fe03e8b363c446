"""Flag receipts that are probably the same one, each time a receipt's content or images change.

The examination of one receipt costs a bounded number of calls, whatever the account's size:
the user's setting, one batch of fingerprint writes, one Query per lookup key (images, content,
eight text bands), one or two flag writes per match on each side, one update of the receipt,
and one batch for the review list's pair items. A receipt whose fingerprints did not change
since its last examination (an edit of its notes, a status change) costs none.
Detection is advice, never a condition of storing a receipt: it runs after the write, from the
table's stream (duplicate-checker). When it fails, the failure is logged and counted, and it
raises: the stream delivers the change again. Every step is idempotent, and the receipt records
its fingerprints as the last step, so a retry, or the next change of a receipt whose check
failed every retry, examines it in full. A failed check writes nothing of its own: each write
to a receipt comes back through the stream, and a failure that wrote would feed itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from receipt_vault.duplicates.fingerprints import ImageFingerprint, judge, of_receipt
from receipt_vault.duplicates.store import DuplicateStore, stored_fingerprints
from receipt_vault.receipts.status import DELETED
from receipt_vault.shapes import DynamoItem

METRIC_NAMESPACE = "ReceiptVault/Duplicates"
# New pairs one check records, the most likely first: a burst of identical receipts (a push of
# 25) stays within the function's time, and the next change of a receipt records more.
MAX_NEW_FLAGS_PER_CHECK = 3


class DuplicateDetector:
    def __init__(self, store: DuplicateStore, detection_enabled: Callable[[str], bool], logger: Logger) -> None:
        self.store = store
        self.detection_enabled = detection_enabled  # the user's setting, `flag` or `off`
        self.logger = logger

    def for_one_request(self) -> DuplicateDetector:
        """This detector for one request of one user (a push of many receipts): the user's
        setting is read once, not once per receipt examined, even by concurrent examinations."""
        lock = threading.Lock()
        answers: dict[str, bool] = {}

        def read_once(user_id: str) -> bool:
            with lock:  # the others wait for the first read rather than making their own
                if user_id not in answers:
                    answers[user_id] = self.detection_enabled(user_id)
                return answers[user_id]

        return DuplicateDetector(self.store, read_once, self.logger)

    def examine(self, user_id: str, receipt: DynamoItem, now: str) -> DynamoItem:
        """Examine a receipt as it is now; returns it as it is after (with any new flag)."""
        try:
            return self._examine(user_id, receipt, now)
        except Exception:
            self.logger.exception("duplicate check failed")
            with single_metric(
                name="DuplicateCheckFailures", unit=MetricUnit.Count, value=1, namespace=METRIC_NAMESPACE
            ):
                pass
            raise

    def _examine(self, user_id: str, receipt: DynamoItem, now: str) -> DynamoItem:
        receipt_id = str(receipt["receiptId"])
        previous_keys, previous = stored_fingerprints(receipt)
        known = set(receipt.get("possibleDuplicates") or {})
        if receipt.get("status") == DELETED:
            # Deleted: nobody's candidate, and no longer anyone's duplicate.
            if previous_keys or previous is not None:
                self.store.forget_fingerprints(user_id, receipt_id, previous_keys)
            latest = receipt
            for other_id in sorted(known):  # both sides, so that a restore flags both again
                self.store.unflag(user_id, other_id, receipt_id, now)
                latest = self.store.unflag(user_id, receipt_id, other_id, now).item or latest
            self.store.replace_pairs(user_id, receipt_id, [], known)
            return latest
        images = [
            ImageFingerprint(str(image["sha256"]), str(image["dhash"]))
            for image in receipt.get("imageFingerprints") or []
        ]
        fingerprints = of_receipt(receipt, images)
        lookup_keys = fingerprints.lookup_keys()
        if previous == fingerprints.as_item() or not (lookup_keys or previous_keys or known):
            return receipt  # nothing a match depends on has changed, or nothing to match on
        # The lookup items first, then the others': the stream hands one user's changes over
        # in order, one at a time, so a receipt written after another finds the other's items,
        # which its own check has recorded (a flag checks that). Kept while detection is off, so
        # that turning it on again finds nothing stale.
        self.store.replace_fingerprints(user_id, receipt_id, previous_keys, fingerprints)
        # Off: no candidate is looked for and nothing new is flagged, but the flags the receipt
        # holds still follow its facts (each one checked against the other receipt alone).
        enabled = self.detection_enabled(user_id)
        candidates = self.store.candidates(user_id, lookup_keys, receipt_id) if enabled else {}
        reviewed = set(receipt.get("resolvedDuplicates") or ())  # the user's decision stands
        verdicts = {
            other_id: verdict
            for other_id, other in candidates.items()
            if other_id not in reviewed and (verdict := judge(fingerprints, other)) is not None
        }
        latest = receipt
        unflagged: list[str] = []
        for other_id in sorted(known - set(verdicts)):
            if other_id not in candidates:  # past a lookup's limit, or no longer sharing a key
                other = self.store.current_fingerprints(user_id, other_id)
                if other is not None and judge(fingerprints, other) is not None:
                    continue
            # The facts changed, or the other was deleted: no longer a pair.
            self.store.unflag(user_id, other_id, receipt_id, now)
            latest = self.store.unflag(user_id, receipt_id, other_id, now).item or latest
            unflagged.append(other_id)
        flagged: list[str] = []
        best_first = sorted(verdicts.items(), key=lambda pair: (-pair[1].score, pair[0]))
        # The likeliest first, past any that cannot take the flag (full, say), until enough are
        # flagged: a receipt of many identical ones still finds the others with room.
        for other_id, verdict in [pair for pair in best_first if pair[0] not in known]:
            if len(flagged) == MAX_NEW_FLAGS_PER_CHECK:
                break
            theirs = self.store.flag(user_id, other_id, receipt_id, verdict, now, fingerprints=candidates[other_id])
            if not theirs.succeeded and (
                theirs.item is None or receipt_id not in theirs.item.get("possibleDuplicates", {})
            ):
                continue  # gone, deleted, full, or its lookup item was stale: nothing to review
            mine = self.store.flag(user_id, receipt_id, other_id, verdict, now)
            latest = mine.item or latest
            if mine.succeeded or other_id in (latest.get("possibleDuplicates") or {}):
                flagged.append(other_id)
        self.store.replace_pairs(user_id, receipt_id, flagged, unflagged)
        # Last: until the receipt records its fingerprints, its change is examined again.
        self.store.remember_fingerprints(user_id, receipt_id, fingerprints)
        if flagged:
            with single_metric(
                name="DuplicatesFlagged", unit=MetricUnit.Count, value=len(flagged), namespace=METRIC_NAMESPACE
            ):
                pass
        return latest
