"""The category-handler's request body: only this function validates it."""

from __future__ import annotations

from receipt_vault.categories import MAX_CUSTOM_CATEGORIES
from receipt_vault.model_base import MAX_VERSION, ONE_LINE_NOT_BLANK, InputModel, plain_text, trimmed
from receipt_vault.validation import Integer, ListOf, Text, field

CATEGORY_NAME = Text(min_length=1, max_length=50, pattern=ONE_LINE_NOT_BLANK, after=trimmed)


def _unique_ignoring_case(names: list[str]) -> list[str]:
    seen: set[str] = set()
    duplicates = []
    for name in names:
        if name.casefold() in seen:
            duplicates.append(name)
        seen.add(name.casefold())
    if duplicates:
        raise ValueError("categories must be unique, ignoring case")  # never echo the input
    return names


class CategoriesUpdate(InputModel):
    custom: list[str] = field(
        ListOf(CATEGORY_NAME, max_length=MAX_CUSTOM_CATEGORIES), before=plain_text, after=_unique_ignoring_case
    )
    version: int = field(Integer(ge=0, le=MAX_VERSION))
