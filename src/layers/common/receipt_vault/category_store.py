"""DynamoDB access for categories: one item per user (`USER#{sub}` / `META#CATEGORIES`)."""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable, WriteResult, conditional_put, conditional_update
from receipt_vault.shapes import DynamoItem


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
