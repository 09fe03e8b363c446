"""The settings use cases: read them, and replace them at the version the device last saw."""

from __future__ import annotations

import datetime as dt

from receipt_vault.errors import VersionConflictError
from receipt_vault.settings_store import SettingsStore
from receipt_vault.user_settings import SettingsView, settings_view
from user_settings.models import SettingsUpdate


class SettingsService:
    def __init__(self, store: SettingsStore) -> None:
        self.store = store

    def get(self, user_id: str) -> SettingsView:
        return settings_view(self.store.get(user_id))

    def save(self, user_id: str, update: SettingsUpdate, moment: dt.datetime) -> SettingsView:
        """Version 0 is the first save; any other version must match the stored one. A save
        based on another device's older view is a 409 carrying the current settings."""
        settings = update.model_dump(exclude={"serverVersion"})
        result = self.store.replace_if_version(user_id, settings, update.serverVersion, moment)
        if not result.succeeded:
            raise VersionConflictError("the settings were changed on another device", settings_view(result.item))
        return settings_view(result.item)
