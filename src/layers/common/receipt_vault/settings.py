"""Configuration: environment variables parsed once, at cold start, into a typed, frozen object.

Each function declares the settings it needs as a dataclass deriving from `FunctionSettings`. A
field named `table_name` is read from `TABLE_NAME`. A missing or malformed variable fails the
import loudly, so a mis-deployed function never serves a request.

Plain dataclasses rather than pydantic: building a pydantic schema for a few variables would
cost every cold start about 7 ms.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar


class ConfigurationError(RuntimeError):
    """The function's environment does not match what its code needs."""


def bounded(minimum: int | None = None, maximum: int | None = None) -> Any:
    """A field with a range: for an int its value, for a str its length."""
    return dataclasses.field(metadata={"minimum": minimum, "maximum": maximum})


def optional(default: str = "") -> Any:
    """A field whose variable may be absent or empty (a feature the stack may not enable)."""
    return dataclasses.field(default=default)


@dataclasses.dataclass(frozen=True)
class FunctionSettings:
    @classmethod
    def env_names(cls) -> list[str]:
        """The environment variables this settings class reads, in declaration order."""
        return [field.name.upper() for field in dataclasses.fields(cls)]


@dataclasses.dataclass(frozen=True)
class RegionSettings(FunctionSettings):
    region: str


@dataclasses.dataclass(frozen=True)
class TableSettings(RegionSettings):
    table_name: str = bounded(minimum=3)


@dataclasses.dataclass(frozen=True)
class ApiSettings(RegionSettings):
    """Settings of every function behind the REST API."""

    cors_allowed_origins: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TableApiSettings(ApiSettings):
    """API functions that read and write the table."""

    table_name: str = bounded(minimum=3)


@dataclasses.dataclass(frozen=True)
class PaginatedApiSettings(TableApiSettings):
    """API functions that hand out `nextToken`s need the key that signs them."""

    pagination_secret_arn: str = bounded(minimum=1)


@dataclasses.dataclass(frozen=True)
class SyncSettings(PaginatedApiSettings):
    """sync-handler."""

    max_batch_size: int = bounded(minimum=1, maximum=100)


@dataclasses.dataclass(frozen=True)
class OcrRefineSettings(TableApiSettings):
    """ocr-refine."""

    s3_bucket: str = bounded(minimum=3)
    bedrock_model_id: str = bounded(minimum=1)
    bedrock_fallback_model_id: str = bounded(minimum=1)
    confidence_threshold: float = bounded(minimum=0, maximum=1)


@dataclasses.dataclass(frozen=True)
class ImageUrlSettings(TableApiSettings):
    """presigned-url-generator."""

    s3_bucket: str = bounded(minimum=3)
    kms_key_id: str = bounded(minimum=1)
    url_expiry_seconds: int = bounded(minimum=60, maximum=3600)
    max_file_size: int = bounded(minimum=1)
    thumbnail_cdn_domain: str = bounded(minimum=1)


@dataclasses.dataclass(frozen=True)
class ThumbnailSettings(TableSettings):
    """thumbnail-generator."""

    s3_bucket: str = bounded(minimum=3)
    kms_key_id: str = bounded(minimum=1)
    thumbnail_width: int = bounded(minimum=16, maximum=2000)
    thumbnail_height: int = bounded(minimum=16, maximum=2000)
    thumbnail_quality: int = bounded(minimum=1, maximum=95)
    max_file_size: int = bounded(minimum=1)


@dataclasses.dataclass(frozen=True)
class UserSettingsApiSettings(TableApiSettings):
    """user-settings: a platform without credentials in this deployment has an empty ARN."""

    fcm_platform_application_arn: str = optional()
    apns_platform_application_arn: str = optional()


@dataclasses.dataclass(frozen=True)
class ScheduledJobSettings(TableSettings):
    """warranty-checker and weekly-summary."""


@dataclasses.dataclass(frozen=True)
class ExportRequestSettings(TableApiSettings):
    """export-request."""

    export_queue_url: str = bounded(minimum=1)
    export_bucket: str = bounded(minimum=3)


@dataclasses.dataclass(frozen=True)
class ExportHandlerSettings(TableSettings):
    """export-handler."""

    s3_bucket: str = bounded(minimum=3)
    export_bucket: str = bounded(minimum=3)
    kms_key_id: str = bounded(minimum=1)


@dataclasses.dataclass(frozen=True)
class UserDeletionSettings(TableApiSettings):
    """user-deletion."""

    s3_bucket: str = bounded(minimum=3)
    export_bucket: str = bounded(minimum=3)
    user_pool_id: str = bounded(minimum=1)
    account_deletion_queue_url: str = bounded(minimum=1)


SettingsT = TypeVar("SettingsT", bound=FunctionSettings)


def _parse(field: dataclasses.Field[Any], kind: Any, raw: str) -> Any:
    minimum, maximum = field.metadata.get("minimum"), field.metadata.get("maximum")
    if kind in (int, float):
        value: Any = kind(raw)
        measure = value
    elif typing.get_origin(kind) is tuple:  # a comma-separated list
        value = tuple(part.strip() for part in raw.split(",") if part.strip())
        measure = len(value)
        minimum = max(minimum or 0, 1)
    else:
        value = raw
        measure = len(raw)
    if (minimum is not None and measure < minimum) or (maximum is not None and measure > maximum):
        raise ValueError(f"out of range [{minimum}, {maximum}]")
    return value


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    environ = os.environ if environ is None else environ
    required = [field.name.upper() for field in dataclasses.fields(model) if _is_required(field)]
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
    kinds = typing.get_type_hints(model)
    values, problems = {}, []
    for field in dataclasses.fields(model):
        name = field.name.upper()
        if not environ.get(name) and not _is_required(field):
            continue  # the dataclass default stands
        try:
            values[field.name] = _parse(field, kinds[field.name], environ[name])
        except ValueError as error:
            problems.append(f"{name}: {error}")
    if problems:
        raise ConfigurationError(f"invalid configuration: {'; '.join(problems)}")
    return model(**values)


def _is_required(field: dataclasses.Field[Any]) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
