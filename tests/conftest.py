"""Shared fixtures: in-process moto, the table built from template.yaml, functions loaded in isolation."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src" / "layers" / "common"), str(ROOT)]

# Never reach a real account, whatever the developer's shell holds.
for _name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL") or name == "AWS_PROFILE"]:
    del os.environ[_name]
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="eu-west-1",
    REGION="eu-west-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="ReceiptVault/Test",
    POWERTOOLS_LOG_LEVEL="WARNING",
)

from moto import mock_aws  # noqa: E402 (after the credentials above)

from local.cfn_template import load_template, table_definition, ttl_attribute  # noqa: E402
from tests.support.api_events import LambdaContext, api_event  # noqa: E402

TABLE_NAME = "ReceiptVault-test"
ALLOWED_ORIGIN = "https://app.receiptvault.test"


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def table(aws) -> Any:
    """The table exactly as template.yaml declares it: keys, GSIs and TTL."""
    template = load_template()
    client = boto3.client("dynamodb")
    client.create_table(**table_definition(template, "ReceiptVaultTable", TABLE_NAME))
    client.update_time_to_live(
        TableName=TABLE_NAME,
        TimeToLiveSpecification={
            "Enabled": True,
            "AttributeName": ttl_attribute(template, "ReceiptVaultTable"),
        },
    )
    return boto3.resource("dynamodb").Table(TABLE_NAME)


@pytest.fixture
def pagination_secret(aws) -> str:
    return boto3.client("secretsmanager").create_secret(
        Name="receiptvault/test/pagination-token-key", SecretString="k" * 64
    )["ARN"]


@pytest.fixture
def api_env(monkeypatch, table, pagination_secret) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", f"{ALLOWED_ORIGIN},http://localhost:8080")
    monkeypatch.setenv("PAGINATION_SECRET_ARN", pagination_secret)


def load_function(name: str) -> ModuleType:
    """Import src/<name>/app.py under a unique module name, as its own Lambda would."""
    path = ROOT / "src" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"fn_{name}_{uuid.uuid4().hex}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


class ApiClient:
    """Invokes one function's handler with API Gateway events."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def call(self, method: str, resource: str, **kwargs: Any) -> ApiResponse:
        response = self.module.lambda_handler(api_event(method, resource, **kwargs), LambdaContext())
        body = json.loads(response["body"]) if response.get("body") else None
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ",".join(values)
        return ApiResponse(response["statusCode"], body, headers)


class DynamoCalls:
    """Counts the DynamoDB API calls a client makes, through botocore's event hooks."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build.dynamodb", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.counts[model.name] += 1
        self.requests.append((model.name, params))

    def reset(self) -> None:
        self.counts.clear()
        self.requests.clear()

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def assert_error_shape(response: ApiResponse, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.body["error"] == code
    assert isinstance(response.body["message"], str) and response.body["message"]
    assert response.body["requestId"]
    assert isinstance(response.body["details"], list)
