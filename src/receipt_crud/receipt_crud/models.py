"""receipt-crud's own requests: the duplicate review's (the listing of pairs, the resolution of
one pair) and the claims' (a new claim, a change of one)."""

from __future__ import annotations

from typing import Literal, get_args

from receipt_vault.duplicates.decisions import DuplicateAction
from receipt_vault.model_base import InputModel
from receipt_vault.receipts.models import (
    CLAIM_ID,
    CLAIM_STATUS,
    EXTENSION_MONTHS,
    ISO_DATE,
    MONEY,
    NOTES,
    SHORT_TEXT,
    VERSION,
    Claim,
    ClaimStatus,
)
from receipt_vault.shapes import DynamoItem
from receipt_vault.validation import Boolean, Integer, ListOf, OneOf, Text, field, optional


class DuplicatePairQuery(InputModel):
    limit: int = field(Integer(ge=1, le=50), default=20)
    nextToken: str | None = optional(Text(min_length=1, max_length=2048))


class DuplicateResolution(InputModel):
    """What the user decided about a pair, on the versions of both receipts they reviewed."""

    action: DuplicateAction = field(OneOf(get_args(DuplicateAction)))
    serverVersion: int = field(VERSION)  # of the receipt of the path, the one kept
    otherServerVersion: int = field(VERSION)  # of the other receipt of the path


class ClaimOpening(Claim):
    """A new claim on the receipt at `serverVersion`. `claimId` is the client's (offline) id: a
    retry with the same id and fields is the same claim; without one the server picks it."""

    claimId: str | None = optional(CLAIM_ID)  # type: ignore[assignment]  # optional here, as the server may pick it
    serverVersion: int = field(VERSION)

    def claim(self, claim_id: str) -> Claim:
        return Claim.model_validate(
            {**self.model_dump(exclude={"serverVersion"}, exclude_none=True), "claimId": claim_id}
        )


RemovableClaimField = Literal["reference", "notes", "closedAt", "cost", "endsWarranty", "extendsWarrantyMonths"]


class ClaimChange(InputModel):
    """A change of a claim on the receipt at `serverVersion`: a field sent replaces the claim's,
    one named in `remove` goes, a field left out stays."""

    serverVersion: int = field(VERSION)
    status: ClaimStatus | None = optional(CLAIM_STATUS)
    reference: str | None = optional(SHORT_TEXT)
    notes: str | None = optional(NOTES)
    closedAt: str | None = optional(ISO_DATE)
    cost: str | None = optional(MONEY)
    endsWarranty: bool | None = optional(Boolean())
    extendsWarrantyMonths: int | None = optional(EXTENSION_MONTHS)
    remove: list[RemovableClaimField] = field(
        ListOf(OneOf(get_args(RemovableClaimField)), max_length=6), default_factory=list
    )

    def check(self) -> None:
        both = sorted(set(self.remove) & (self.model_fields_set - {"serverVersion", "remove"}))
        if both:
            raise ValueError(f"a field is changed or removed, not both: {', '.join(both)}")

    def applied_to(self, claim: DynamoItem) -> DynamoItem:
        """The claim with this change, still to be validated as a whole (a Claim)."""
        changed = {
            name: getattr(self, name)
            for name in self.model_fields_set - {"serverVersion", "remove"}
            if getattr(self, name) is not None
        }
        return {name: value for name, value in {**claim, **changed}.items() if name not in self.remove}
