"""The category-handler's request body: only this function validates it."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from receipt_vault.categories import MAX_CUSTOM_CATEGORIES
from receipt_vault.model_base import MAX_VERSION, ONE_LINE_NOT_BLANK, InputModel, plain_text, trimmed

CategoryName = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=ONE_LINE_NOT_BLANK), AfterValidator(trimmed)
]


class CategoriesUpdate(InputModel):
    custom: Annotated[list[CategoryName], Field(max_length=MAX_CUSTOM_CATEGORIES)]
    version: Annotated[int, Field(ge=0, le=MAX_VERSION)]

    _plain = field_validator("custom", mode="before")(plain_text)

    @field_validator("custom")
    @classmethod
    def _unique_ignoring_case(cls, names: list[str]) -> list[str]:
        seen: set[str] = set()
        duplicates = []
        for name in names:
            if name.casefold() in seen:
                duplicates.append(name)
            seen.add(name.casefold())
        if duplicates:
            raise ValueError("categories must be unique, ignoring case")  # never echo the input
        return names
