"""GET /health needs no auth and reports the version."""

from __future__ import annotations

from receipt_vault import __version__
from tests.conftest import ApiClient, load_function


def test_health_answers_ok_with_the_version_without_a_user(api_env):
    health = ApiClient(load_function("health"))

    response = health.call("GET", "/health", user=None)

    assert response.status == 200
    assert response.body == {"status": "ok", "version": __version__}
