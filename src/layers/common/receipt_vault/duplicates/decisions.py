"""The record of the user's decisions on pairs of possible duplicates, kept on both receipts.

`duplicateResolutions` is a string set of "<peer receiptId> <decision> <own version>/<peer
version>": the kept receipt records the action taken (`keep_both`, `merge`, `discard_other`),
the other one its side of it (`keep_both`, `merged-into`, `discarded-for`), each with the
versions the decision was taken on, so that only a retry of the same request is answered as
done. `resolvedDuplicates` is the set of peers alone,
which detection's conditions test (a set's `contains` needs the exact element).
"""

from __future__ import annotations

from typing import Literal

from receipt_vault.shapes import DynamoItem

DuplicateAction = Literal["keep_both", "merge", "discard_other"]
# How the other receipt records a decision taken from the kept one.
OTHER_SIDE_OF: dict[str, str] = {"keep_both": "keep_both", "merge": "merged-into", "discard_other": "discarded-for"}


def decision_record(peer_id: str, decision: str, own_version: object, peer_version: object) -> str:
    return f"{peer_id} {decision} {own_version}/{peer_version}"


def has_decided(receipt: DynamoItem, peer_id: str, decision: str, own_version: int, peer_version: int) -> bool:
    """Whether this decision was taken on the receipt and its peer at these versions."""
    return decision_record(peer_id, decision, own_version, peer_version) in (receipt.get("duplicateResolutions") or ())


def merged_into(receipt: DynamoItem) -> str | None:
    """The receipt this one was merged into, if it was."""
    for record in sorted(receipt.get("duplicateResolutions") or ()):
        peer_id, decision, *_ = str(record).split(" ")
        if decision == OTHER_SIDE_OF["merge"]:
            return peer_id
    return None
