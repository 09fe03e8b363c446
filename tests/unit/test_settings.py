"""Settings fail loudly at cold start when the environment is incomplete."""

from __future__ import annotations

import pytest

from receipt_vault.settings import ConfigurationError, PaginatedApiSettings, load_settings

COMPLETE = {
    "REGION": "eu-west-1",
    "TABLE_NAME": "ReceiptVault-dev",
    "CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example",
    "PAGINATION_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
}


def test_settings_are_parsed_from_the_environment():
    settings = load_settings(PaginatedApiSettings, COMPLETE)

    assert settings.table_name == "ReceiptVault-dev"
    assert settings.cors_allowed_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize("missing", sorted(COMPLETE))
def test_a_missing_variable_names_itself(missing):
    environ = {k: v for k, v in COMPLETE.items() if k != missing}

    with pytest.raises(ConfigurationError, match=missing):
        load_settings(PaginatedApiSettings, environ)


def test_an_invalid_value_is_a_configuration_error():
    with pytest.raises(ConfigurationError):
        load_settings(PaginatedApiSettings, {**COMPLETE, "CORS_ALLOWED_ORIGINS": " , "})


@pytest.mark.parametrize(
    ("variable", "value"),
    [("URL_EXPIRY_SECONDS", "59"), ("URL_EXPIRY_SECONDS", "soon"), ("TABLE_NAME", "ab"), ("MAX_FILE_SIZE", "0")],
)
def test_numbers_and_lengths_are_checked_against_their_bounds(variable, value):
    from receipt_vault.settings import ImageUrlSettings

    environ = {
        **COMPLETE,
        "S3_BUCKET": "bucket",
        "KMS_KEY_ID": "key",
        "URL_EXPIRY_SECONDS": "600",
        "MAX_FILE_SIZE": "10",
        "THUMBNAIL_CDN_DOMAIN": "d.example",
        variable: value,
    }

    with pytest.raises(ConfigurationError, match=variable):
        load_settings(ImageUrlSettings, environ)


def test_settings_are_immutable():
    import dataclasses

    settings = load_settings(PaginatedApiSettings, COMPLETE)

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.table_name = "other"  # type: ignore[misc]
