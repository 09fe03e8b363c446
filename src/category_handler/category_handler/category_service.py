"""The categories use cases: read the list, and replace it at the version the device last saw."""

from __future__ import annotations

import datetime as dt

from category_handler.models import CategoriesUpdate
from receipt_vault.categories import CategoriesView, categories_view
from receipt_vault.category_store import CategoryStore
from receipt_vault.clock import iso_timestamp
from receipt_vault.errors import VersionConflictError


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
