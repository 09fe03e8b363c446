"""Configuration: environment variables parsed once, at cold start, into a typed model.

Each function declares the settings it needs as a subclass of `FunctionSettings`. A field named
`table_name` is read from `TABLE_NAME`. A missing or malformed variable fails the import loudly,
so a mis-deployed function never serves a request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigurationError(RuntimeError):
    """The function's environment does not match what its code needs."""


class FunctionSettings(BaseModel):
    # Built when loaded: a function pays only for the one settings model it uses.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def env_names(cls) -> list[str]:
        """The environment variables this model reads, in declaration order."""
        return [name.upper() for name in cls.model_fields]


class RegionSettings(FunctionSettings):
    region: str = Field(min_length=1)


class TableSettings(RegionSettings):
    table_name: str = Field(min_length=3)


class ApiSettings(RegionSettings):
    """Settings of every function behind the REST API."""

    cors_allowed_origins: tuple[str, ...] = Field(min_length=1)

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value


class TableApiSettings(ApiSettings, TableSettings):
    """API functions that read and write the table."""


class PaginatedApiSettings(TableApiSettings):
    """API functions that hand out `nextToken`s need the key that signs them."""

    pagination_secret_arn: str = Field(min_length=1)


class ImageUrlSettings(TableApiSettings):
    """presigned-url-generator."""

    s3_bucket: str = Field(min_length=3)
    kms_key_id: str = Field(min_length=1)
    url_expiry_seconds: int = Field(ge=60, le=3600)
    max_file_size: int = Field(ge=1)
    thumbnail_cdn_domain: str = Field(min_length=1)


class ThumbnailSettings(TableSettings):
    """thumbnail-generator."""

    s3_bucket: str = Field(min_length=3)
    kms_key_id: str = Field(min_length=1)
    thumbnail_width: int = Field(ge=16, le=2000)
    thumbnail_height: int = Field(ge=16, le=2000)
    thumbnail_quality: int = Field(ge=1, le=95)
    max_file_size: int = Field(ge=1)


SettingsT = TypeVar("SettingsT", bound=FunctionSettings)


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    environ = os.environ if environ is None else environ
    missing = [name for name in model.env_names() if not environ.get(name)]
    if missing:
        raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
    values = {name.lower(): environ[name] for name in model.env_names()}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from exc
