"""The user-settings function's request bodies: only this function validates them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StringConstraints, field_validator

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


class SettingsUpdate(InputModel):
    """PUT /user/settings replaces the whole settings document."""

    # Strict types, as API Gateway's model validation is: "yes" is not a boolean.
    reminderDaysBefore: Annotated[list[StrictInt], Field(max_length=len(ALLOWED_REMINDER_OFFSETS))]
    weeklyDigestEnabled: StrictBool
    timezone: Annotated[str, StringConstraints(max_length=64, pattern=TIMEZONE_PATTERN)]
    locale: Annotated[str, StringConstraints(max_length=35, pattern=LOCALE_PATTERN)]
    duplicateDetection: DuplicateDetectionMode = DEFAULT_DUPLICATE_DETECTION
    inboundAllowedSenders: Annotated[
        list[Annotated[str, StringConstraints(max_length=254, pattern=SENDER_ENTRY_PATTERN)]],
        Field(max_length=MAX_ALLOWED_SENDERS, default_factory=list),
    ]
    serverVersion: Annotated[StrictInt, Field(ge=0, le=MAX_VERSION)]

    @field_validator("inboundAllowedSenders")
    @classmethod
    def _lower_case_once(cls, entries: list[str]) -> list[str]:
        return list(dict.fromkeys(entry.lower() for entry in entries))

    @field_validator("reminderDaysBefore")
    @classmethod
    def _allowed_and_unique(cls, offsets: list[int]) -> list[int]:
        unknown = sorted(set(offsets) - set(ALLOWED_REMINDER_OFFSETS))
        if unknown:
            raise ValueError(f"offsets must be among {list(ALLOWED_REMINDER_OFFSETS)}")  # never echo the input
        if len(set(offsets)) != len(offsets):
            raise ValueError("offsets must be unique")
        return sorted(offsets, reverse=True)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        if not is_known_timezone(name):
            raise ValueError("not an IANA timezone this service knows, such as Europe/Athens")  # never echo it
        return name


class DeviceRegistration(InputModel):
    platform: Literal["android", "ios"]
    # FCM registration tokens and hex APNs device tokens.
    token: Annotated[str, StringConstraints(min_length=8, max_length=4096, pattern=r"^[A-Za-z0-9:_\-.+/=]+$")]
    # The app's installation id: lets a refreshed token update the same device.
    deviceId: Annotated[str, StringConstraints(pattern=UUID_PATTERN)] | None = None
