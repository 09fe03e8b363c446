"""User settings: reminder offsets, weekly digest, timezone, locale, and the push devices.

The rules and views, pure; settings_store.py reads and writes the item.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Literal, TypedDict, get_args

from receipt_vault.shapes import DynamoItem

# A small fixed set: the warranty checker queries one index partition per offset and local day.
ALLOWED_REMINDER_OFFSETS = (0, 1, 3, 7, 14, 30, 60, 90)
DEFAULT_REMINDER_OFFSETS = (30, 7, 1)
DEFAULT_TIMEZONE = "UTC"
DEFAULT_LOCALE = "en"
# Suspected duplicate receipts: `flag` them for review (receipt_vault/duplicates), or `off`.
DuplicateDetectionMode = Literal["flag", "off"]
DUPLICATE_DETECTION_MODES: tuple[str, ...] = get_args(DuplicateDetectionMode)
DEFAULT_DUPLICATE_DETECTION: DuplicateDetectionMode = "flag"

# Receipts by e-mail: who may send them (receipt_vault/inbound_addresses.py). An entry is an
# address or `@domain`; none means anyone who knows the address.
SENDER_ENTRY_PATTERN = (
    r"^(@|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@)"
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
MAX_ALLOWED_SENDERS = 50

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
    devices: dict[str, DynamoItem]
    duplicate_detection: str = DEFAULT_DUPLICATE_DETECTION
    inbound_allowed_senders: tuple[str, ...] = ()

    @classmethod
    def from_item(cls, item: DynamoItem | None) -> UserSettings:
        item = item or {}
        offsets = item.get("reminderDaysBefore")
        return cls(
            reminder_offsets=DEFAULT_REMINDER_OFFSETS if offsets is None else tuple(int(offset) for offset in offsets),
            weekly_digest=bool(item.get("weeklyDigestEnabled", False)),
            timezone=item.get("timezone") or DEFAULT_TIMEZONE,
            locale=item.get("locale") or DEFAULT_LOCALE,
            devices=dict(item.get("devices") or {}),
            duplicate_detection=item.get("duplicateDetection") or DEFAULT_DUPLICATE_DETECTION,
            inbound_allowed_senders=tuple(item.get("inboundAllowedSenders") or ()),
        )


class DeviceView(TypedDict):
    """A device as the API lists it (API.md): without its push endpoint."""

    deviceId: str
    platform: str
    registeredAt: str
    updatedAt: str


class SettingsView(TypedDict):
    """GET /user/settings (API.md)."""

    reminderDaysBefore: list[int]
    weeklyDigestEnabled: bool
    timezone: str
    locale: str
    duplicateDetection: str
    inboundAllowedSenders: list[str]
    serverVersion: int
    devices: list[DeviceView]


def settings_view(item: DynamoItem | None) -> SettingsView:
    """What GET /user/settings returns. A user who never saved settings has version 0. Devices
    are listed without their endpoints: those stay inside the backend."""
    settings = UserSettings.from_item(item)
    return {
        "reminderDaysBefore": list(settings.reminder_offsets),
        "weeklyDigestEnabled": settings.weekly_digest,
        "timezone": settings.timezone,
        "locale": settings.locale,
        "duplicateDetection": settings.duplicate_detection,
        "inboundAllowedSenders": list(settings.inbound_allowed_senders),
        "serverVersion": int((item or {}).get("serverVersion", 0)),
        "devices": sorted(
            (device_view(device_id, device) for device_id, device in settings.devices.items()),
            key=lambda device: device["registeredAt"],
        ),
    }


def device_view(device_id: str, device: DynamoItem) -> DeviceView:
    return {
        "deviceId": device_id,
        "platform": device["platform"],
        "registeredAt": device["registeredAt"],
        "updatedAt": device["updatedAt"] if "updatedAt" in device else device["registeredAt"],
    }
