"""receipt-crud's own requests: the duplicate review's (the listing of pairs, the resolution of
one pair) and the claims' (a new claim, a change of one)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from receipt_vault.duplicates.decisions import DuplicateAction
from receipt_vault.model_base import MAX_VERSION, InputModel
from receipt_vault.receipts.models import Claim, ClaimStatus, IsoDate, Money, Notes, ReceiptId, ShortText
from receipt_vault.shapes import DynamoItem

Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]


class DuplicatePairQuery(InputModel):
    limit: Annotated[int, Field(ge=1, le=50)] = 20
    nextToken: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None


class DuplicateResolution(InputModel):
    """What the user decided about a pair, on the versions of both receipts they reviewed."""

    action: DuplicateAction
    serverVersion: Version  # of the receipt of the path, the one kept
    otherServerVersion: Version  # of the other receipt of the path


class ClaimOpening(Claim):
    """A new claim on the receipt at `serverVersion`. `claimId` is the client's (offline) id: a
    retry with the same id and fields is the same claim; without one the server picks it."""

    claimId: ReceiptId | None = None  # type: ignore[assignment]  # optional here, as the server may pick it
    serverVersion: Version

    def claim(self, claim_id: str) -> Claim:
        return Claim.model_validate(
            {**self.model_dump(exclude={"serverVersion"}, exclude_none=True), "claimId": claim_id}
        )


RemovableClaimField = Literal["reference", "notes", "closedAt", "cost", "endsWarranty", "extendsWarrantyMonths"]


class ClaimChange(InputModel):
    """A change of a claim on the receipt at `serverVersion`: a field sent replaces the claim's,
    one named in `remove` goes, a field left out stays."""

    serverVersion: Version
    status: ClaimStatus | None = None
    reference: ShortText | None = None
    notes: Notes | None = None
    closedAt: IsoDate | None = None
    cost: Money | None = None
    endsWarranty: bool | None = None
    extendsWarrantyMonths: Annotated[int, Field(ge=1, le=120)] | None = None
    remove: Annotated[list[RemovableClaimField], Field(max_length=6)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _set_or_removed(self) -> ClaimChange:
        both = sorted(set(self.remove) & (self.model_fields_set - {"serverVersion", "remove"}))
        if both:
            raise ValueError(f"a field is changed or removed, not both: {', '.join(both)}")
        return self

    def applied_to(self, claim: DynamoItem) -> DynamoItem:
        """The claim with this change, still to be validated as a whole (a Claim)."""
        changed = {
            name: getattr(self, name)
            for name in self.model_fields_set - {"serverVersion", "remove"}
            if getattr(self, name) is not None
        }
        return {name: value for name, value in {**claim, **changed}.items() if name not in self.remove}
