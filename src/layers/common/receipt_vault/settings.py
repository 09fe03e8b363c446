"""Configuration: environment variables parsed once, at cold start, into a typed, frozen object.

Each function declares the settings it needs as a class deriving from `FunctionSettings`, with
annotated fields as a dataclass would. A field named `table_name` is read from `TABLE_NAME`. A
missing or malformed variable fails the import loudly, so a mis-deployed function never serves a
request.

Neither pydantic (a schema for a few variables costs every cold start about 7 ms) nor
dataclasses (generating six methods for each of the classes below costs about 8 ms): the fields
are read from the annotations, and one `__init__` serves every class.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeAlias, TypeVar


class ConfigurationError(RuntimeError):
    """The function's environment does not match what its code needs."""


_REQUIRED = object()  # a field without a default
# What `bounded` and `optional` give a field: typed as whatever the field's annotation says
# (`table_name: str = bounded(minimum=1)`), as dataclasses.field is.
FieldSpec: TypeAlias = Any


@dataclasses.dataclass(frozen=True)
class Field:
    """How a field is read: bounds (an int's value, a str's length), or a default that makes
    the variable optional."""

    minimum: int | None = None
    maximum: int | None = None
    default: object = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def bounded(minimum: int | None = None, maximum: int | None = None) -> FieldSpec:
    """A field with a range: for an int its value, for a str its length."""
    return Field(minimum, maximum)


def optional(default: str = "") -> FieldSpec:
    """A field whose variable may be absent or empty (a feature the stack may not enable)."""
    return Field(default=default)


class FunctionSettings:
    """Settings are set once, by `load_settings`, and never change."""

    def __init__(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    @classmethod
    def fields(cls) -> list[tuple[str, Field]]:
        """(name, how it is read) for every field, base classes' first, in declaration order."""
        found: dict[str, Field] = {}
        for klass in reversed(cls.__mro__):
            own = vars(klass)  # this class's own annotations, not the inherited ones
            for name in own.get("__annotations__", {}):
                declared = own.get(name)
                found[name] = declared if isinstance(declared, Field) else Field()
        return list(found.items())

    @classmethod
    def env_names(cls) -> list[str]:
        """The environment variables this settings class reads, in declaration order."""
        return [name.upper() for name, _ in cls.fields()]


class RegionSettings(FunctionSettings):
    region: str


class TableSettings(RegionSettings):
    table_name: str = bounded(minimum=3)


class ApiSettings(RegionSettings):
    """Settings of every function behind the REST API."""

    cors_allowed_origins: tuple[str, ...]


class TableApiSettings(ApiSettings):
    """API functions that read and write the table."""

    table_name: str = bounded(minimum=3)


class PaginatedApiSettings(TableApiSettings):
    """API functions that hand out `nextToken`s need the key that signs them."""

    pagination_secret_arn: str = bounded(minimum=1)


class SyncSettings(PaginatedApiSettings):
    """sync-handler."""

    max_batch_size: int = bounded(minimum=1, maximum=100)


class OcrRefineSettings(TableApiSettings):
    """ocr-refine."""

    s3_bucket: str = bounded(minimum=3)
    bedrock_model_id: str = bounded(minimum=1)
    bedrock_fallback_model_id: str = bounded(minimum=1)
    confidence_threshold: float = bounded(minimum=0, maximum=1)
    refine_daily_limit: int = bounded(minimum=1, maximum=100000)  # per user and UTC day


class ImageUrlSettings(TableApiSettings):
    """presigned-url-generator."""

    s3_bucket: str = bounded(minimum=3)
    url_expiry_seconds: int = bounded(minimum=60, maximum=3600)
    max_file_size: int = bounded(minimum=1)
    thumbnail_cdn_domain: str = bounded(minimum=1)


class DuplicateCheckerSettings(TableSettings):
    """duplicate-checker."""


class ThumbnailSettings(TableSettings):
    """thumbnail-generator."""

    s3_bucket: str = bounded(minimum=3)
    kms_key_id: str = bounded(minimum=1)
    thumbnail_width: int = bounded(minimum=16, maximum=2000)
    thumbnail_height: int = bounded(minimum=16, maximum=2000)
    thumbnail_quality: int = bounded(minimum=1, maximum=95)
    max_file_size: int = bounded(minimum=1)


class UserSettingsApiSettings(TableApiSettings):
    """user-settings: a platform without credentials in this deployment has an empty ARN, and a
    deployment without receipts by e-mail an empty domain."""

    fcm_platform_application_arn: str = optional()
    apns_platform_application_arn: str = optional()
    inbound_mail_domain: str = optional()


class InboundMailSettings(TableSettings):
    """inbound-mail: the raw messages SES stores, and where their receipts go."""

    inbound_bucket: str = bounded(minimum=3)
    s3_bucket: str = bounded(minimum=3)  # the images bucket: each receipt's original
    kms_key_id: str = bounded(minimum=1)
    inbound_mail_domain: str = bounded(minimum=3)
    refinement_queue_url: str = bounded(minimum=1)
    max_message_size: int = bounded(minimum=1)
    max_file_size: int = bounded(minimum=1)  # one attachment, as an upload's limit
    inbound_daily_limit: int = bounded(minimum=1, maximum=10000)  # messages per user and UTC day


class ScheduledJobSettings(TableSettings):
    """warranty-checker and weekly-summary."""


class ExportRequestSettings(TableApiSettings):
    """export-request."""

    export_queue_url: str = bounded(minimum=1)
    export_bucket: str = bounded(minimum=3)
    export_max_in_progress: int = bounded(minimum=1, maximum=5)  # per user
    export_daily_limit: int = bounded(minimum=1, maximum=1000)  # per user and UTC day


class ExportHandlerSettings(TableSettings):
    """export-handler."""

    s3_bucket: str = bounded(minimum=3)
    export_bucket: str = bounded(minimum=3)
    kms_key_id: str = bounded(minimum=1)


class UserDeletionSettings(TableApiSettings):
    """user-deletion."""

    s3_bucket: str = bounded(minimum=3)
    export_bucket: str = bounded(minimum=3)
    inbound_bucket: str = optional()  # empty without receipts by e-mail
    user_pool_id: str = bounded(minimum=1)
    account_deletion_queue_url: str = bounded(minimum=1)
    thumbnail_distribution_id: str = bounded(minimum=1)
    # Longer than any token issued before an erasure lives (AccessTokenValidity, IdTokenValidity).
    final_sweep_after_seconds: int = bounded(minimum=60, maximum=86400)


SettingsT = TypeVar("SettingsT", bound=FunctionSettings)


def _parse(field: Field, kind: type, raw: str) -> object:
    """`kind`: the field's annotation, as typing.get_type_hints resolves it (int, str, tuple[str, ...])."""
    minimum, maximum = field.minimum, field.maximum
    value: object
    measure: float
    if kind in (int, float):
        number: float = kind(raw)
        value, measure = number, number
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
    fields = model.fields()
    missing = [name.upper() for name, field in fields if field.required and not environ.get(name.upper())]
    if missing:
        raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
    kinds = typing.get_type_hints(model)
    values, problems = {}, []
    for name, field in fields:
        variable = name.upper()
        if not environ.get(variable):
            values[name] = field.default  # an optional variable, absent: its default stands
            continue
        try:
            values[name] = _parse(field, kinds[name], environ[variable])
        except ValueError as error:
            problems.append(f"{variable}: {error}")
    if problems:
        raise ConfigurationError(f"invalid configuration: {'; '.join(problems)}")
    return model(**values)
