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
