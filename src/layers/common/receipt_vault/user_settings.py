"""User settings: reminder offsets, weekly digest, timezone, locale, and the push devices.

One item per user (`USER#{sub}` / `META#SETTINGS`). The settings fields are versioned like
every mutable item; the device map is not, because the app registers its device at every
launch and that must never turn a settings save into a 409.

Opting in to the weekly digest puts the item into ByScheduledJob's `DIGEST#WEEKLY` partition,
so the weekly summary reads exactly the users who opted in.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import DynamoTable, WriteResult, conditional_update
from receipt_vault.errors import VersionConflictError

if TYPE_CHECKING:  # a type for the checker only: a Protocol class costs import time
    from typing import Protocol

    class SettingsChange(Protocol):
        """A validated PUT /user/settings (the user-settings function's SettingsUpdate model)."""

        reminderDaysBefore: list[int]
        weeklyDigestEnabled: bool
        timezone: str
        locale: str
        serverVersion: int


# A small fixed set: the warranty checker queries one index partition per offset and local day.
ALLOWED_REMINDER_OFFSETS = (0, 1, 3, 7, 14, 30, 60, 90)
DEFAULT_REMINDER_OFFSETS = (30, 7, 1)
DEFAULT_TIMEZONE = "UTC"
DEFAULT_LOCALE = "en"
DIGEST_INDEX_ATTRIBUTES = ("jobPK", "jobSK")

# IANA names only (Area/Location, or UTC): no paths, no POSIX TZ strings.
TIMEZONE_PATTERN = r"^(UTC|[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){1,2})$"
LOCALE_PATTERN = r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,3}$"


# zoneinfo is imported on first use: pushing a refinement result never needs a timezone, and
# the import (with sysconfig's tz path lookup) would cost every cold start a few milliseconds.
@functools.lru_cache(maxsize=512)
def zone(name: str) -> dt.tzinfo:
    """The timezone, or UTC for a name this runtime does not know (stored settings were valid
    when saved; a tz database without the name must not stop a scheduled run)."""
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)


def is_known_timezone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def local_date(moment: dt.datetime, timezone: str) -> dt.date:
    """The calendar day a user in `timezone` is living at `moment`."""
    return moment.astimezone(zone(timezone)).date()


@dataclass(frozen=True)
class UserSettings:
    """A user's settings as the scheduled jobs use them, defaults filled in."""

    reminder_offsets: tuple[int, ...]
    weekly_digest: bool
    timezone: str
    locale: str
    devices: dict[str, dict[str, Any]]

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> UserSettings:
        item = item or {}
        offsets = item.get("reminderDaysBefore")
        return cls(
            reminder_offsets=DEFAULT_REMINDER_OFFSETS if offsets is None else tuple(int(offset) for offset in offsets),
            weekly_digest=bool(item.get("weeklyDigestEnabled", False)),
            timezone=item.get("timezone") or DEFAULT_TIMEZONE,
            locale=item.get("locale") or DEFAULT_LOCALE,
            devices=dict(item.get("devices") or {}),
        )


def settings_view(item: dict[str, Any] | None) -> dict[str, Any]:
    """What GET /user/settings returns. A user who never saved settings has version 0. Devices
    are listed without their endpoints: those stay inside the backend."""
    settings = UserSettings.from_item(item)
    return {
        "reminderDaysBefore": list(settings.reminder_offsets),
        "weeklyDigestEnabled": settings.weekly_digest,
        "timezone": settings.timezone,
        "locale": settings.locale,
        "serverVersion": int((item or {}).get("serverVersion", 0)),
        "devices": sorted(
            (device_view(device_id, device) for device_id, device in settings.devices.items()),
            key=lambda device: device["registeredAt"],
        ),
    }


def device_view(device_id: str, device: dict[str, Any]) -> dict[str, Any]:
    return {
        "deviceId": device_id,
        "platform": device["platform"],
        "registeredAt": device["registeredAt"],
        "updatedAt": device.get("updatedAt", device["registeredAt"]),
    }


class SettingsStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def get(self, user_id: str, consistent: bool = True) -> dict[str, Any] | None:
        return self.table.get_item(keys.settings_key(user_id), consistent=consistent)

    def get_many(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Settings items by user id; users without one are absent."""
        items = self.table.batch_get([keys.settings_key(user_id) for user_id in user_ids], consistent=False)
        return {keys.user_id_of(item["PK"]): item for item in items}

    def save(self, user_id: str, update: SettingsChange, moment: dt.datetime) -> dict[str, Any]:
        """Version 0 is the first save (the item may already hold devices); any other version
        must match the stored one. The device map is left as it is."""
        base = update.serverVersion
        values: dict[str, Any] = {
            "reminderDaysBefore": update.reminderDaysBefore,
            "weeklyDigestEnabled": update.weeklyDigestEnabled,
            "timezone": update.timezone,
            "locale": update.locale,
            "serverVersion": base + 1,
            "updatedAt": iso_timestamp(moment),
        }
        remove: list[str] = []
        if update.weeklyDigestEnabled:
            values.update(jobPK=keys.DIGEST_JOB_PK, jobSK=keys.user_pk(user_id))
        else:
            remove += DIGEST_INDEX_ATTRIBUTES
        expected = Attr("serverVersion").not_exists() if base == 0 else Attr("serverVersion").eq(base)
        result = conditional_update(self.table, keys.settings_key(user_id), values, remove, expected)
        if not result.succeeded:
            raise VersionConflictError("the settings were changed on another device", settings_view(result.item))
        return settings_view(result.item)

    def put_device(self, user_id: str, device_id: str, device: dict[str, Any]) -> dict[str, Any]:
        """Add or replace one entry of the device map, creating the map (and the item) if needed.
        Concurrent registrations of other devices are never overwritten."""
        key = keys.settings_key(user_id)
        for _ in range(3):
            try:
                return self.table.update_item(key, {f"devices.{device_id}": device}, [], Attr("devices").exists())
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
            first = {"devices": {device_id: device}}
            created = conditional_update(self.table, key, first, [], Attr("devices").not_exists())
            if created.succeeded:
                return created.item or {}
        raise VersionConflictError("the device list kept changing; try again", None)

    def remove_device(self, user_id: str, device_id: str, endpoint_arn: str | None = None) -> WriteResult:
        """Remove a device, optionally only while it still has `endpoint_arn` (a re-registration
        in the meantime wins)."""
        condition = Attr(f"devices.{device_id}").exists()
        if endpoint_arn is not None:
            condition = Attr(f"devices.{device_id}.endpointArn").eq(endpoint_arn)
        return conditional_update(self.table, keys.settings_key(user_id), {}, [f"devices.{device_id}"], condition)
