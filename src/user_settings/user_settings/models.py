"""The user-settings function's request bodies: only this function validates them."""

from __future__ import annotations

from typing import Literal, get_args

from receipt_vault.model_base import MAX_VERSION, InputModel
from receipt_vault.receipts.models import UUID_PATTERN
from receipt_vault.user_settings import (
    ALLOWED_REMINDER_OFFSETS,
    DEFAULT_DUPLICATE_DETECTION,
    LOCALE_PATTERN,
    MAX_ALLOWED_SENDERS,
    SENDER_ENTRY_PATTERN,
    TIMEZONE_PATTERN,
    DuplicateDetectionMode,
    is_known_timezone,
)
from receipt_vault.validation import Boolean, Integer, ListOf, OneOf, Text, field, optional


def _lower_case_once(entries: list[str]) -> list[str]:
    return list(dict.fromkeys(entry.lower() for entry in entries))


def _allowed_and_unique(offsets: list[int]) -> list[int]:
    unknown = sorted(set(offsets) - set(ALLOWED_REMINDER_OFFSETS))
    if unknown:
        raise ValueError(f"offsets must be among {list(ALLOWED_REMINDER_OFFSETS)}")  # never echo the input
    if len(set(offsets)) != len(offsets):
        raise ValueError("offsets must be unique")
    return sorted(offsets, reverse=True)


def _known_timezone(name: str) -> str:
    if not is_known_timezone(name):
        raise ValueError("not an IANA timezone this service knows, such as Europe/Athens")  # never echo it
    return name


class SettingsUpdate(InputModel):
    """PUT /user/settings replaces the whole settings document."""

    # Every body is read strictly, as API Gateway's model validation is: "yes" is not a boolean.
    reminderDaysBefore: list[int] = field(
        ListOf(Integer(), max_length=len(ALLOWED_REMINDER_OFFSETS)), after=_allowed_and_unique
    )
    weeklyDigestEnabled: bool = field(Boolean())
    timezone: str = field(Text(max_length=64, pattern=TIMEZONE_PATTERN), after=_known_timezone)
    locale: str = field(Text(max_length=35, pattern=LOCALE_PATTERN))
    duplicateDetection: DuplicateDetectionMode = field(
        OneOf(get_args(DuplicateDetectionMode)), default=DEFAULT_DUPLICATE_DETECTION
    )
    inboundAllowedSenders: list[str] = field(
        ListOf(Text(max_length=254, pattern=SENDER_ENTRY_PATTERN), max_length=MAX_ALLOWED_SENDERS),
        default_factory=list,
        after=_lower_case_once,
    )
    serverVersion: int = field(Integer(ge=0, le=MAX_VERSION))


class DeviceRegistration(InputModel):
    platform: Literal["android", "ios"] = field(OneOf(("android", "ios")))
    # FCM registration tokens and hex APNs device tokens.
    token: str = field(Text(min_length=8, max_length=4096, pattern=r"^[A-Za-z0-9:_\-.+/=]+$"))
    # The app's installation id: lets a refreshed token update the same device.
    deviceId: str | None = optional(Text(pattern=UUID_PATTERN))
