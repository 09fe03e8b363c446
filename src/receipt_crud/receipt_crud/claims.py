"""Warranty claims on a receipt: a new claim, and a change of one.

Claims are a user-owned field of the receipt (`claims`), so they sync and export with it, and a
device may also edit the list itself. These routes change one claim at a time, each as one
conditional write of the whole content on the version the client read, so the warranty indexes
follow a claim's effect (an outcome that ends the warranty, a repair that extends it) in the
same write. A retry is recognised: a new claim with the client's claimId that is already there,
or a change the claim already has, answers the receipt as it is and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from receipt_crud.models import ClaimChange, ClaimOpening
from receipt_vault.api import validation_details
from receipt_vault.errors import BadRequestError, NotFoundError, VersionConflictError
from receipt_vault.receipts.merge import client_content
from receipt_vault.receipts.models import MAX_CLAIMS, Claim
from receipt_vault.receipts.rules import normalize_receipt_id, to_api
from receipt_vault.receipts.status import DELETED
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.shapes import DynamoItem, JsonObject
from receipt_vault.validation import ValidationError


class ClaimService:
    def __init__(self, store: ReceiptStore) -> None:
        self.store = store

    def open(
        self, user_id: str, receipt_id: str, request: ClaimOpening, moment: dt.datetime
    ) -> tuple[JsonObject, bool]:
        """The receipt with the new claim, and whether this request added it (not a retry)."""
        current = self._receipt(user_id, receipt_id)
        claim_id = request.claimId.lower() if request.claimId else str(uuid.uuid4())
        claim = _validated(lambda: request.claim(claim_id))
        claims = list(current.get("claims") or [])
        existing = next((stored for stored in claims if stored["claimId"] == claim_id), None)
        if existing is not None:
            if Claim.model_validate(existing) == claim:
                return to_api(current), False  # a retry of this request
            raise VersionConflictError("a claim with this claimId exists with other fields", to_api(current))
        if len(claims) >= MAX_CLAIMS:
            raise BadRequestError(f"a receipt holds at most {MAX_CLAIMS} claims")
        stored = self._replace_claims(user_id, current, request.serverVersion, [*claims, _as_stored(claim)], moment)
        return to_api(stored), True

    def change(
        self, user_id: str, receipt_id: str, claim_id: str, request: ClaimChange, moment: dt.datetime
    ) -> JsonObject:
        current = self._receipt(user_id, receipt_id)
        claims = list(current.get("claims") or [])
        index = next((i for i, stored in enumerate(claims) if stored["claimId"] == claim_id.lower()), None)
        if index is None:
            raise NotFoundError("claim not found")
        changed = _validated(lambda: Claim.model_validate(request.applied_to(dict(claims[index]))))
        if changed == Claim.model_validate(claims[index]):
            return to_api(current)  # nothing to change (or a retry): nothing written
        claims[index] = _as_stored(changed)
        return to_api(self._replace_claims(user_id, current, request.serverVersion, claims, moment))

    def _receipt(self, user_id: str, receipt_id: str) -> DynamoItem:
        current = self.store.get(user_id, normalize_receipt_id(receipt_id))
        if current is None:
            raise NotFoundError("receipt not found")
        if current.get("status") == DELETED:
            raise VersionConflictError("the receipt is deleted; restore it first", to_api(current))
        return current

    def _replace_claims(
        self, user_id: str, current: DynamoItem, version: int, claims: list[DynamoItem], moment: dt.datetime
    ) -> DynamoItem:
        if current["serverVersion"] != version:
            raise VersionConflictError("the receipt was changed by another write", to_api(current))
        result = self.store.replace_content(user_id, current, {**client_content(current), "claims": claims}, moment)
        if not result.succeeded:
            raise VersionConflictError("the receipt was changed by another write", to_api(result.item or {}))
        return result.item or {}


def _validated(build: Callable[[], Claim]) -> Claim:
    try:
        return build()
    except ValidationError as error:
        raise BadRequestError("invalid claim", details=validation_details(error)) from None


def _as_stored(claim: Claim) -> DynamoItem:
    return claim.model_dump(exclude_none=True)
