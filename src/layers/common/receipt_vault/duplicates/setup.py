"""A function's duplicate detector, on its table, honouring each user's setting."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from receipt_vault.duplicates.detector import DuplicateDetector
from receipt_vault.duplicates.store import DuplicateStore
from receipt_vault.dynamo import DynamoTable
from receipt_vault.settings_store import SettingsStore
from receipt_vault.user_settings import UserSettings


def duplicate_detector(table: DynamoTable, logger: Logger) -> DuplicateDetector:
    settings = SettingsStore(table)

    def detection_enabled(user_id: str) -> bool:
        return UserSettings.from_item(settings.get(user_id, consistent=False)).duplicate_detection == "flag"

    return DuplicateDetector(DuplicateStore(table), detection_enabled, logger)
