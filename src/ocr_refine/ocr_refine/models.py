"""The refine route's request body (POST /receipts/{receiptId}/refine): only this function validates it."""

from __future__ import annotations

from receipt_vault.model_base import SEVERAL_LINES, InputModel
from receipt_vault.receipts.models import MAX_OCR_TEXT_BYTES, paragraphs
from receipt_vault.validation import Text, optional


class RefineRequest(InputModel):
    # What the model reads is held to what a receipt may store.
    ocrRawText: str | None = optional(
        Text(min_length=1, max_length=MAX_OCR_TEXT_BYTES, pattern=SEVERAL_LINES), before=paragraphs
    )
    imageKey: str | None = optional(Text(min_length=1, max_length=300))
