"""Categories: fixed defaults plus each user's custom list, versioned for concurrent devices."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, TypedDict

from boto3.dynamodb.conditions import Attr
from pydantic import AfterValidator, Field, StringConstraints, field_validator

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import DynamoTable, WriteResult, conditional_put, conditional_update
from receipt_vault.errors import VersionConflictError
from receipt_vault.model_base import ONE_LINE_NOT_BLANK, InputModel, plain_text, trimmed
from receipt_vault.shapes import DynamoItem

MAX_CUSTOM_CATEGORIES = 50
DEFAULT_CATEGORIES = (
    "Groceries",
    "Electronics",
    "Home & Garden",
    "Clothing",
    "Health & Pharmacy",
    "Restaurants & Dining",
    "Transport & Fuel",
    "Entertainment",
    "Services",
    "Other",
)

CategoryName = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=ONE_LINE_NOT_BLANK), AfterValidator(trimmed)
]


class CategoriesUpdate(InputModel):
    custom: Annotated[list[CategoryName], Field(max_length=MAX_CUSTOM_CATEGORIES)]
    version: Annotated[int, Field(ge=0)]

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


class CategoriesView(TypedDict):
    """GET /categories and PUT /categories (API.md)."""

    defaults: list[str]
    custom: list[str]
    version: int


def categories_view(item: DynamoItem | None) -> CategoriesView:
    """What GET returns; a user who never saved a list has version 0."""
    item = item or {}
    return {
        "defaults": list(DEFAULT_CATEGORIES),
        "custom": list(item.get("custom", [])),
        "version": int(item.get("version", 0)),
    }


class CategoryStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def get(self, user_id: str) -> DynamoItem | None:
        return self.table.get_item(keys.categories_key(user_id))

    def save(self, user_id: str, custom: list[str], base_version: int, now: str) -> WriteResult:
        """Version 0 creates the list; any other version must match the stored one."""
        if base_version == 0:
            item = {**keys.categories_key(user_id), "custom": custom, "version": 1, "updatedAt": now}
            return conditional_put(self.table, item, Attr("PK").not_exists())
        return conditional_update(
            self.table,
            keys.categories_key(user_id),
            {"custom": custom, "version": base_version + 1, "updatedAt": now},
            [],
            Attr("version").eq(base_version),
        )


class CategoryService:
    def __init__(self, store: CategoryStore) -> None:
        self.store = store

    def get(self, user_id: str) -> CategoriesView:
        return categories_view(self.store.get(user_id))

    def replace(self, user_id: str, request: CategoriesUpdate, moment: dt.datetime) -> CategoriesView:
        result = self.store.save(user_id, request.custom, request.version, iso_timestamp(moment))
        if not result.succeeded:
            raise VersionConflictError("the categories were changed by another device", categories_view(result.item))
        return categories_view(result.item)
