"""The refine route's request body (POST /receipts/{receiptId}/refine): only this function validates it."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, field_validator

from receipt_vault.model_base import SEVERAL_LINES, InputModel, plain_text
from receipt_vault.receipts.models import MAX_OCR_TEXT_BYTES


class RefineRequest(InputModel):
    ocrRawText: (
        Annotated[str, StringConstraints(min_length=1, max_length=MAX_OCR_TEXT_BYTES, pattern=SEVERAL_LINES)] | None
    ) = None
    imageKey: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None

    @field_validator("ocrRawText", mode="before")
    @classmethod
    def _readable(cls, value: object) -> object:  # what the model reads is held to what a receipt may store
        return plain_text(value, multiline=True)
