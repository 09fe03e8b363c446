"""The record of the user's decisions on pairs of possible duplicates, kept on both receipts.

`duplicateResolutions` is a string set of "<peer receiptId> <decision>": the kept receipt
records the action taken (`keep_both`, `merge`, `discard_other`), the other one its side of it
(`keep_both`, `merged-into`, `discarded-for`). `resolvedDuplicates` is the set of peers alone,
which detection's conditions test (a set's `contains` needs the exact element).
"""

from __future__ import annotations

from typing import Literal

from receipt_vault.shapes import DynamoItem

DuplicateAction = Literal["keep_both", "merge", "discard_other"]
# How the other receipt records a decision taken from the kept one.
OTHER_SIDE_OF: dict[str, str] = {"keep_both": "keep_both", "merge": "merged-into", "discard_other": "discarded-for"}


def decision_record(peer_id: str, decision: str) -> str:
    return f"{peer_id} {decision}"


def has_decided(receipt: DynamoItem, peer_id: str, decision: str) -> bool:
    return decision_record(peer_id, decision) in (receipt.get("duplicateResolutions") or ())


def merged_into(receipt: DynamoItem) -> str | None:
    """The receipt this one was merged into, if it was."""
    for record in sorted(receipt.get("duplicateResolutions") or ()):
        peer_id, _, decision = str(record).partition(" ")
        if decision == OTHER_SIDE_OF["merge"]:
            return peer_id
    return None
