"""Categories: fixed defaults plus each user's custom list, versioned for concurrent devices.

The rules and the view, pure; category_store.py reads and writes the item. The view is here, in
the layer, because the export writes it too.
"""

from __future__ import annotations

from typing import TypedDict

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
