"""Shared fixtures: in-process moto, the table built from template.yaml, functions loaded in isolation."""

from __future__ import annotations

import functools
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore
import pytest

ROOT = Path(__file__).resolve().parent.parent

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

from local import iam  # noqa: E402
from local.cfn_template import load_template, table_definition, ttl_attribute  # noqa: E402
from local.emulation import (  # noqa: E402
    make_dynamodb_items_linear_to_build,
    make_dynamodb_queries_read_one_partition,
    make_dynamodb_requests_atomic,
)
from local.inprocess import cold_start  # noqa: E402
from receipt_vault.clock import utc_now  # noqa: E402
from tests.support.api_events import api_event, lambda_context  # noqa: E402

make_dynamodb_requests_atomic()  # as DynamoDB is: a race is decided by the code's conditions
make_dynamodb_queries_read_one_partition()  # as DynamoDB is: a Query's cost is its partition's
make_dynamodb_items_linear_to_build()  # as DynamoDB is: an item's cost grows with its size, not its square
iam.install()  # every handler call below runs under its function's role (load_function)

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
    monkeypatch.setenv("INBOUND_MAIL_DOMAIN", "mail.receiptvault.test")  # receipts by e-mail: on


def load_function(name: str) -> ModuleType:
    """A cold start of the function in src/<name>/ (local.inprocess), its handler run under the
    role template.yaml gives the function."""
    module = cold_start(name)
    if callable(getattr(module, "lambda_handler", None)):
        module.lambda_handler = with_role(module.lambda_handler, name)
    return module


# The template whose roles the handlers run under; a test may swap in a mutated copy.
ROLES_TEMPLATE: dict[str, Any] | None = None


def roles_template() -> dict[str, Any]:
    return ROLES_TEMPLATE if ROLES_TEMPLATE is not None else load_template()


def _environment_names(template: Mapping[str, Any]) -> tuple[str, ...]:
    """Every variable a function's environment declares: what the role resolution reads."""
    names = set(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    for resource in template["Resources"].values():
        names |= set(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}) or {})
    return tuple(sorted(names))


_SDK_DIRS = tuple(str(Path(module.__file__).parent) for module in (boto3, botocore, iam))  # type: ignore[arg-type]
_TESTS_DIR = str(ROOT / "tests")


def _called_from_a_test() -> bool:
    """True when the code that makes the AWS call is a test's, not the function's: a stand-in
    for another actor that a test patched into the handler (a receipt deleted meanwhile)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_SDK_DIRS):
            return filename.startswith(_TESTS_DIR)
        frame = frame.f_back
    return False


def _revealed(event: Any) -> str:
    """What of an event the role resolution reads: a custom resource's properties, the buckets
    and queues of S3 and SQS records."""
    if not isinstance(event, Mapping):
        return ""
    records = [
        (record.get("s3", {}).get("bucket", {}).get("name"), record.get("eventSourceARN"))
        for record in event.get("Records") or []
        if isinstance(record, Mapping)
    ]
    return json.dumps([event.get("ResourceProperties"), records], sort_keys=True, default=str)


def with_role(handler: Callable[..., Any], code_dir: str) -> Callable[..., Any]:
    """The handler, run under the role template.yaml gives its function (src/<code_dir>/):
    each AWS call it makes is authorised first (local.iam), resolved with the names the test
    created (local.iam.environment_resolver). Calls outside the handler stay unchecked."""
    guards: dict[tuple[Any, ...], iam.RoleGuard] = {}

    def guard(event: Any) -> iam.RoleGuard:
        template = roles_template()
        function_id = iam.function_for_code(template, code_dir)
        environment = tuple((n, os.environ.get(n)) for n in _environment_names(template))
        revealed = _revealed(event)
        key = (id(template), environment, revealed)
        if key not in guards:
            resolve = iam.environment_resolver(
                template, function_id, os.environ, event if isinstance(event, Mapping) else None
            )
            guards[key] = iam.guard_for(template, function_id, resolve)
            guards[key].exempt = _called_from_a_test
        return guards[key]

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        with iam.enforce(guard(event)):
            return handler(event, context)

    return invoke


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


class ApiClient:
    """Invokes one function's handler with API Gateway events; `before_each_call` runs first (the
    table's stream delivered to duplicate-checker: its checks have run by the next request)."""

    def __init__(self, module: ModuleType, before_each_call: Callable[[], object] | None = None) -> None:
        self.module = module
        self.before_each_call = before_each_call

    def call(self, method: str, resource: str, **kwargs: Any) -> ApiResponse:
        if self.before_each_call is not None:
            self.before_each_call()
        response = self.module.lambda_handler(api_event(method, resource, **kwargs), lambda_context())
        if response.get("body"):  # what API Gateway sends on as UTF-8: a lone surrogate cannot be
            response["body"].encode("utf-8")
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


IMAGES_BUCKET = "receiptvault-images-test"
CDN_DOMAIN = "d111111abcdef8.cloudfront.net"


@pytest.fixture
def images_bucket(monkeypatch, aws) -> dict[str, str]:
    """The images bucket as the template declares it: versioned, SSE-KMS with the stack's key."""
    key_arn = boto3.client("kms").create_key(Description="test data key")["KeyMetadata"]["Arn"]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=IMAGES_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=IMAGES_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=IMAGES_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]
        },
    )
    for name, value in {
        "S3_BUCKET": IMAGES_BUCKET,
        "KMS_KEY_ID": key_arn,
        "URL_EXPIRY_SECONDS": "600",
        "MAX_FILE_SIZE": "10485760",
        "THUMBNAIL_CDN_DOMAIN": CDN_DOMAIN,
        "THUMBNAIL_WIDTH": "200",
        "THUMBNAIL_HEIGHT": "300",
        "THUMBNAIL_QUALITY": "70",
    }.items():
        monkeypatch.setenv(name, value)
    return {"bucket": IMAGES_BUCKET, "key_arn": key_arn}


def put_receipt(table, user: str = "user-a", status: str = "active", **fields: Any) -> dict[str, Any]:
    """A stored receipt, written directly: tests of other functions need one to exist."""

    from receipt_vault.receipts.layout import new_receipt_item
    from receipt_vault.receipts.models import ReceiptCreate

    item = new_receipt_item(user, str(uuid.uuid4()), ReceiptCreate(status="active", **fields), utc_now())
    if status != "active":
        item.update(status=status, statusPK=f"USER#{user}#STATUS#{status}")
    table.put_item(Item=item)
    return item


def fill_images(table, receipt: dict[str, Any]) -> list[str]:
    """Give a stored receipt as many images as a receipt may hold: the keys, as stored."""
    from receipt_vault.images import MAX_IMAGES_PER_RECEIPT

    user = receipt["PK"].removeprefix("USER#")
    full = [
        f"users/{user}/receipts/{receipt['receiptId']}/original/{uuid.uuid4()}.jpg"
        for _ in range(MAX_IMAGES_PER_RECEIPT)
    ]
    table.update_item(
        Key={"PK": receipt["PK"], "SK": receipt["SK"]},
        UpdateExpression="SET imageKeys = :k",
        ExpressionAttributeValues={":k": full},
    )
    return full
