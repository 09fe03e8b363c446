"""The body of PUT /user/settings: only this function validates it, so only it builds the model."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StringConstraints, field_validator

from receipt_vault.model_base import InputModel
from receipt_vault.user_settings import ALLOWED_REMINDER_OFFSETS, LOCALE_PATTERN, TIMEZONE_PATTERN, is_known_timezone


class SettingsUpdate(InputModel):
    """PUT /user/settings replaces the whole settings document."""

    # Strict types, as API Gateway's model validation is: "yes" is not a boolean.
    reminderDaysBefore: Annotated[list[StrictInt], Field(max_length=len(ALLOWED_REMINDER_OFFSETS))]
    weeklyDigestEnabled: StrictBool
    timezone: Annotated[str, StringConstraints(max_length=64, pattern=TIMEZONE_PATTERN)]
    locale: Annotated[str, StringConstraints(max_length=35, pattern=LOCALE_PATTERN)]
    serverVersion: Annotated[StrictInt, Field(ge=0)]

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
