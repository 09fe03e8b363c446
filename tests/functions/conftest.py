"""Fixtures shared by the function tests."""

from __future__ import annotations

import pytest

from tests.conftest import ApiClient, load_function
from tests.support.bedrock import HAIKU, SONNET


@pytest.fixture
def refine_fn(api_env, images_bucket, monkeypatch) -> ApiClient:
    monkeypatch.setenv("BEDROCK_MODEL_ID", HAIKU)
    monkeypatch.setenv("BEDROCK_FALLBACK_MODEL_ID", SONNET)
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.70")
    return ApiClient(load_function("ocr_refine"))
