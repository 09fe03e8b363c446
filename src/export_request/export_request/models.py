"""The export-request function's request body: only this function validates it."""

from __future__ import annotations

from receipt_vault.model_base import InputModel
from receipt_vault.receipts.models import ISO_DATE
from receipt_vault.validation import optional


class ExportRequest(InputModel):
    """An optional purchase-date range; without one, everything."""

    from_: str | None = optional(ISO_DATE, alias="from")
    to: str | None = optional(ISO_DATE)
