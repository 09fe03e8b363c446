"""The export-request function's request body: only this function validates it."""

from __future__ import annotations

from pydantic import Field

from receipt_vault.model_base import InputModel
from receipt_vault.receipts.models import IsoDate


class ExportRequest(InputModel):
    """An optional purchase-date range; without one, everything."""

    from_: IsoDate | None = Field(default=None, alias="from")
    to: IsoDate | None = None
