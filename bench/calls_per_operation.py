"""AWS calls and DynamoDB capacity per API operation: every route of api/openapi.yaml, once.

Each route's handler runs in-process against moto (`mock_aws`), in a fresh execution environment
(local.inprocess.cold_start), with a realistic precondition (an existing receipt to get, update
or delete, a deleted one to restore, a feed to fetch...) set up outside the measurement. Each
route is called twice by the same user: the first request pays what an environment does once
(the pagination secret, fetched on first use) and what a user's first request of the day does
(the active-user marker, a conditional PutItem, receipt_vault/active_users.py); the second, warm
request is the per-request cost the table shows. What only the first request did is listed apart.

Counting: botocore event hooks on boto3's default session (`before-call.*.*`, `after-call.*.*`),
registered before any function is loaded, so clients created at import or lazily on first use
(receipt_vault/clients.py) are all counted; `provide-client-params.dynamodb.*` adds
`ReturnConsumedCapacity=TOTAL` to every DynamoDB request that takes it.

Capacity is computed here, not taken from moto. moto 5.2's ConsumedCapacity is a placeholder
(moto/dynamodb/responses.py): a fixed 1.0 for PutItem, DeleteItem, Query and Scan and 0.5 for
GetItem whatever the item's size or the read's consistency; always 0.5 for UpdateItem, a write;
one unit per key for BatchGetItem; 1.0 per table for a BatchWriteItem of any number of items;
2.0 per item for TransactGetItems; nothing for TransactWriteItems; and none at all for a failed
conditional write, which AWS bills. So the units below follow DynamoDB's documented rules, from
the items as stored, read before and after the call with a separate, uncounted client:
  - item size: the attribute names' UTF-8 length plus the values' (S: UTF-8 bytes; N: 1 byte per
    2 significant digits + 1; B: bytes; BOOL, NULL: 1; L and M: 3 + per element 1 (+ the key for
    M); sets: the sum of their elements);
  - reads: 4 KB per unit strongly consistent, half eventually consistent (every index query);
    GetItem and each BatchGetItem key rounded up per item, a missing item still 1 (0.5); Query
    and Scan: the items evaluated (before any FilterExpression, up to Limit; index entries for an
    index) summed, then rounded up; TransactGetItems twice;
  - writes: 1 KB per unit of the larger of the item before and after (PutItem, UpdateItem), of
    the item deleted (DeleteItem), at least 1; a write whose condition fails still 1 KB per unit
    of the stored item; each GSI whose entry the write puts, changes or deletes adds its entry's
    units (a changed index key: the old entry's and the new one's); TransactWriteItems twice
    for the table's writes and ConditionChecks (the index writes at the standard rate).
Other services' calls are counted, not priced. Bedrock's Converse is a scripted stand-in in
process (tests/support/bedrock.py, no botocore call): the refine route counts its calls itself.

Usage: python bench/calls_per_operation.py [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):  # run as `python bench/calls_per_operation.py`: bench/ is on the path
    from environment import REGION, use_bench_environment
else:  # imported as bench.calls_per_operation (tests/bench)
    from bench.environment import REGION, use_bench_environment

ROOT = Path(__file__).resolve().parent.parent
BUDGET_PATH = ROOT / "tests" / "bench" / "call_budget.json"  # checked in (bench/*.json is not)
PUSH_SIZES = (1, 5)
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
TABLE_NAME = "ReceiptVault-bench-calls"
IMAGES_BUCKET = "receiptvault-images-bench"
EXPORTS_BUCKET = "receiptvault-exports-bench"
INBOUND_BUCKET = "receiptvault-inbound-bench"
FUNCTION_VARIABLES = {
    "TABLE_NAME": TABLE_NAME,
    "CORS_ALLOWED_ORIGINS": "http://localhost",
    "MAX_BATCH_SIZE": "25",
    "INBOUND_MAIL_DOMAIN": "mail.receiptvault.test",
    "S3_BUCKET": IMAGES_BUCKET,
    "URL_EXPIRY_SECONDS": "600",
    "MAX_FILE_SIZE": "10485760",
    "THUMBNAIL_CDN_DOMAIN": "d111111abcdef8.cloudfront.net",
    "EXPORT_BUCKET": EXPORTS_BUCKET,
    "EXPORT_MAX_IN_PROGRESS": "5",
    "EXPORT_DAILY_LIMIT": "1000",
    "INBOUND_BUCKET": INBOUND_BUCKET,
    "FINAL_SWEEP_AFTER_SECONDS": "3900",
    "CONFIDENCE_THRESHOLD": "0.70",
    "REFINE_DAILY_LIMIT": "1000",
}


# -- DynamoDB item sizes and capacity units ---------------------------------------------------


def _number_size(text: str) -> int:
    digits = text.lstrip("-+").lower().split("e")[0].replace(".", "").lstrip("0").rstrip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    """The size DynamoDB counts for one attribute value in wire form ({"S": "..."})."""
    [(kind, inner)] = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(element.encode("utf-8")) for element in inner)
    if kind == "NS":
        return sum(_number_size(element) for element in inner)
    if kind == "BS":
        return sum(len(element) for element in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(element) for name, element in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


@dataclass
class Call:
    service: str
    operation: str
    ok: bool
    rcu: float = 0.0
    wcu: float = 0.0
    moto_units: float | None = None  # what moto's ConsumedCapacity said
    purpose: str = ""  # for DynamoDB: what the key is (erasure check, active-user marker...)

    @property
    def name(self) -> str:
        return f"{self.operation} ({self.purpose})" if self.purpose else self.operation


def _purpose(key: dict[str, Any] | None, read: bool) -> str:
    pk = ((key or {}).get("PK") or {}).get("S", "")
    if pk.startswith("DELETION#"):
        return "erasure check" if read else "erasure job"
    if pk.startswith("ACTIVE#"):
        return "active-user marker"
    return ""


def _names_in(expression: str | None) -> set[str]:
    return set(re.findall(r"[#:][A-Za-z0-9_]+", expression or ""))


class Meter:
    """Records every AWS call made through boto3's default session while `recording`."""

    def __init__(self, capacity: bool = True) -> None:
        import boto3

        self.capacity = capacity  # False: count calls only, without the reads that price them
        self.shadow = boto3.session.Session().client("dynamodb", region_name=REGION)  # uncounted
        self.calls: list[Call] | None = None
        self._schemas: dict[str, dict[str, Any]] = {}

    def install(self) -> None:
        import boto3

        self._events = boto3._get_default_session().events  # the session boto3.client() uses
        for event, handler, unique_id in self._hooks():
            self._events.register(event, handler, unique_id)

    def uninstall(self) -> None:
        for event, handler, unique_id in self._hooks():
            self._events.unregister(event, handler, unique_id)

    def _hooks(self) -> list[tuple[str, Callable[..., None], str]]:
        return [
            ("provide-client-params.dynamodb.*", self._return_consumed_capacity, "bench-capacity"),
            ("before-call.*.*", self._before, "bench-before"),
            ("after-call.*.*", self._after, "bench-after"),
        ]

    @contextmanager
    def recording(self) -> Iterator[list[Call]]:
        self.calls = []
        try:
            yield self.calls
        finally:
            self.calls = None

    # -- hooks ---------------------------------------------------------------------------------

    @staticmethod
    def _return_consumed_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members and "ReturnConsumedCapacity" not in params:
            params["ReturnConsumedCapacity"] = "TOTAL"

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.calls is None or model.service_model.service_name != "dynamodb":
            return
        body = json.loads(params.get("body") or b"{}")
        context["bench"] = {"body": body, "before": self._written_items(model.name, body) if self.capacity else None}

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self.calls is None:
            return
        call = Call(model.service_model.service_id, model.name, http_response.status_code < 300)
        state = context.get("bench")
        if state is not None:
            call.purpose = _purpose(_first_key(self, model.name, state["body"]), read=model.name == "GetItem")
            call.moto_units = _moto_units(parsed)
            if self.capacity:
                self._capacity(call, state["body"], state["before"])
        self.calls.append(call)

    # -- capacity ------------------------------------------------------------------------------

    def _schema(self, table: str) -> dict[str, Any]:
        if table not in self._schemas:
            description = self.shadow.describe_table(TableName=table)["Table"]
            self._schemas[table] = {
                "keys": [key["AttributeName"] for key in description["KeySchema"]],
                "indexes": {index["IndexName"]: index for index in description.get("GlobalSecondaryIndexes", [])},
            }
        return self._schemas[table]

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.shadow.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return item

    def _write_targets(self, operation: str, body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """(kind, table, key) of each item a write touches."""
        if operation == "PutItem":
            keys = self._schema(body["TableName"])["keys"]
            return [("put", body["TableName"], {name: body["Item"][name] for name in keys})]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(operation, body["TableName"], body["Key"])]
        if operation == "BatchWriteItem":
            targets = []
            for table, requests in body["RequestItems"].items():
                keys = self._schema(table)["keys"]
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        targets.append(("put", table, {name: item[name] for name in keys}))
                    else:
                        targets.append(("DeleteItem", table, request["DeleteRequest"]["Key"]))
            return targets
        if operation == "TransactWriteItems":
            targets = []
            for entry in body["TransactItems"]:
                [(kind, spec)] = entry.items()
                if kind == "Put":
                    keys = self._schema(spec["TableName"])["keys"]
                    targets.append((kind, spec["TableName"], {name: spec["Item"][name] for name in keys}))
                else:
                    targets.append((kind, spec["TableName"], spec["Key"]))
            return targets
        return []

    def _written_items(self, operation: str, body: dict[str, Any]) -> list[dict[str, Any] | None]:
        return [self._get(table, key) for _, table, key in self._write_targets(operation, body)]

    def _index_units(self, table: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> int:
        schema = self._schema(table)
        units = 0
        for index in schema["indexes"].values():
            index_keys = [key["AttributeName"] for key in index["KeySchema"]]

            def entry(item: dict[str, Any] | None, index: dict[str, Any] = index, index_keys: list[str] = index_keys):
                if item is None or any(name not in item for name in index_keys):
                    return None
                projection = index["Projection"]
                if projection["ProjectionType"] == "ALL":
                    return dict(item)
                kept = {*schema["keys"], *index_keys, *projection.get("NonKeyAttributes", [])}
                return {name: value for name, value in item.items() if name in kept}

            before, after = entry(old), entry(new)
            if before == after:
                continue
            if before is None or after is None:
                units += write_units(item_size(before or after))
            elif all(before[name] == after[name] for name in index_keys):
                units += write_units(max(item_size(before), item_size(after)))
            else:  # the index key moved: a delete and a put
                units += write_units(item_size(before)) + write_units(item_size(after))
        return units

    def _capacity(self, call: Call, body: dict[str, Any], before: list[dict[str, Any] | None]) -> None:
        operation = call.operation
        if operation == "GetItem":
            item = self._get(body["TableName"], body["Key"])
            call.rcu = read_units(item_size(item), bool(body.get("ConsistentRead")))
        elif operation in ("BatchGetItem", "TransactGetItems"):
            specs = (
                [
                    (table, spec.get("ConsistentRead", False), key)
                    for table, spec in body["RequestItems"].items()
                    for key in spec["Keys"]
                ]
                if operation == "BatchGetItem"
                else [(entry["Get"]["TableName"], True, entry["Get"]["Key"]) for entry in body["TransactItems"]]
            )
            factor = 2 if operation == "TransactGetItems" else 1
            call.rcu = sum(
                factor * read_units(item_size(self._get(table, key)), consistent) for table, consistent, key in specs
            )
        elif operation in ("Query", "Scan"):
            call.rcu = self._query_units(operation, body)
        elif operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
            targets = self._write_targets(operation, body)
            factor = 2 if operation == "TransactWriteItems" else 1
            for (kind, table, key), old in zip(targets, before, strict=True):
                if not call.ok or kind == "ConditionCheck":
                    call.wcu += factor * write_units(item_size(old))
                    continue
                new = None if kind == "DeleteItem" or kind == "Delete" else self._get(table, key)
                call.wcu += factor * write_units(max(item_size(old), item_size(new)))
                call.wcu += self._index_units(table, old, new)

    def _query_units(self, operation: str, body: dict[str, Any]) -> float:
        """The items the request evaluated: the same request without its filter and projection."""
        request: dict[str, Any] = {
            name: body[name]
            for name in (
                "TableName",
                "IndexName",
                "KeyConditionExpression",
                "Limit",
                "ExclusiveStartKey",
                "ScanIndexForward",
                "ConsistentRead",
            )
            if name in body
        }
        used = _names_in(body.get("KeyConditionExpression"))
        names = {name: value for name, value in (body.get("ExpressionAttributeNames") or {}).items() if name in used}
        values = {name: value for name, value in (body.get("ExpressionAttributeValues") or {}).items() if name in used}
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = values
        request["Select"] = "ALL_PROJECTED_ATTRIBUTES" if "IndexName" in body else "ALL_ATTRIBUTES"
        page = getattr(self.shadow, operation.lower())(**request)
        total = sum(item_size(item) for item in page.get("Items", []))
        return read_units(total, bool(body.get("ConsistentRead")))


def _first_key(meter: Meter, operation: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The key of a single-item call (what its purpose is read from)."""
    if operation in ("GetItem", "UpdateItem", "DeleteItem"):
        key: dict[str, Any] = body["Key"]
        return key
    if operation == "PutItem":
        return body["Item"]
    return None


def _moto_units(parsed: dict[str, Any]) -> float | None:
    consumed = parsed.get("ConsumedCapacity")
    if consumed is None:
        units = parsed.get("ConsumedCapacityUnits")
        return float(units) if units is not None else None
    entries = consumed if isinstance(consumed, list) else [consumed]
    return float(sum(entry.get("CapacityUnits", 0) for entry in entries))


# -- the routes -------------------------------------------------------------------------------


def contract_routes() -> list[str]:
    """Every operation of api/openapi.yaml that a function answers (CORS preflights are the
    gateway's own mock integrations)."""
    from local.cfn_template import load_yaml

    contract = load_yaml(ROOT / "api" / "openapi.yaml")
    return sorted(
        f"{method.upper()} {path}"
        for path, operations in contract["paths"].items()
        for method, operation in operations.items()
        if method in HTTP_METHODS and operation.get("x-amazon-apigateway-integration", {}).get("type") == "aws_proxy"
    )


@dataclass
class Request:
    """One API request: the route's parameters, and who sends it."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] | None = None
    body: Any = None
    user: str | None = None
    username: str | None = None
    headers: dict[str, str] | None = None
    source_ip: str | None = None


@dataclass
class Scenario:
    route: str
    function: str
    status: int
    # Sets the precondition up (outside the measurement) and returns the request; `user` is the
    # route's user, the same for both requests, unless the scenario names another in the request.
    prepare: Callable[[Bench, str], Request]
    note: str = ""


class Bench:
    """The stack in moto: the table, buckets, queues, secret, user pool, platform applications."""

    def __init__(self, meter: Meter) -> None:
        import boto3

        self.meter = meter
        self._setup: dict[str, ModuleType] = {}
        self.table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE_NAME)
        self.bedrock_calls = 0
        self.bedrock_calls_total = 0
        self.receipts_made = 0
        self._changes: Any = None  # the current table's stream, delivered to duplicate-checker

    def new_table(self) -> None:
        """An empty table for the next scenario (moto's queries slow down as a table grows), and
        setup environments that use it."""
        import boto3

        from local.cfn_template import load_template, table_definition, ttl_attribute

        name = f"{TABLE_NAME}-{uuid.uuid4().hex[:8]}"
        template = load_template()
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**table_definition(template, "ReceiptVaultTable", name))
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute(template, "ReceiptVaultTable")},
        )
        os.environ["TABLE_NAME"] = name
        self.table = boto3.resource("dynamodb", region_name=REGION).Table(name)
        self._setup.clear()
        self._changes = None

    def create_resources(self) -> None:
        import boto3

        from tests.support import cdn, push

        self.new_table()
        secret = boto3.client("secretsmanager").create_secret(Name="bench-pagination", SecretString="k" * 64)["ARN"]
        key_arn = boto3.client("kms").create_key(Description="bench data key")["KeyMetadata"]["Arn"]
        s3 = boto3.client("s3")
        for bucket in (IMAGES_BUCKET, EXPORTS_BUCKET, INBOUND_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=IMAGES_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sqs = boto3.client("sqs")
        applications = push.platform_applications()
        pool = boto3.client("cognito-idp").create_user_pool(PoolName="receiptvault-bench")["UserPool"]["Id"]
        from tests.support.bedrock import HAIKU, SONNET

        os.environ.update(
            {name: value for name, value in FUNCTION_VARIABLES.items() if name != "TABLE_NAME"},
            PAGINATION_SECRET_ARN=secret,
            KMS_KEY_ID=key_arn,
            EXPORT_QUEUE_URL=sqs.create_queue(QueueName="bench-export")["QueueUrl"],
            ACCOUNT_DELETION_QUEUE_URL=sqs.create_queue(QueueName="bench-account-deletion")["QueueUrl"],
            FCM_PLATFORM_APPLICATION_ARN=applications["android"],
            APNS_PLATFORM_APPLICATION_ARN=applications["ios"],
            USER_POOL_ID=pool,
            THUMBNAIL_DISTRIBUTION_ID=cdn.distribution(),
            BEDROCK_MODEL_ID=HAIKU,
            BEDROCK_FALLBACK_MODEL_ID=SONNET,
        )
        self.pool = pool

    # -- environments ----------------------------------------------------------------------------

    def fresh(self, function: str) -> ModuleType:
        """A new execution environment of the function."""
        from local.inprocess import cold_start

        module = cold_start(function)
        if function == "user_deletion":
            module.SAFETY_NET_DELAY_SECONDS = 0
        if function == "ocr_refine":
            self._script_bedrock(module)
        return module

    def setup(self, function: str) -> ModuleType:
        """The environment that sets preconditions up: never the measured one."""
        if function not in self._setup:
            self._setup[function] = self.fresh(function)
        return self._setup[function]

    def _script_bedrock(self, module: ModuleType) -> None:
        import datetime as dt

        from tests.support.bedrock import TODAY, ScriptedBedrock, extraction, tool_answer

        bench = self

        class CountedBedrock(ScriptedBedrock):
            """A confident answer, of another purchase each time: two refinements are no pair."""

            def converse(self, **request: Any) -> dict[str, Any]:
                bench.bedrock_calls += 1
                date = (TODAY - dt.timedelta(days=2 + bench.bedrock_calls_total)).isoformat()
                bench.bedrock_calls_total += 1
                answer = extraction(merchant=f"MediaMarkt {uuid.uuid4().hex[:6]}", date=date)
                self.scripts[request["modelId"]].append(tool_answer(answer))
                return super().converse(**request)

        module.refinements.gateway.bedrock = CountedBedrock()

    def invoke(self, module: ModuleType, method: str, resource: str, request: Request) -> tuple[int, Any]:
        from tests.support.api_events import api_event, lambda_context

        event = api_event(
            method,
            resource,
            path_parameters=request.path,
            query=request.query,
            body=request.body,
            user=request.user,
            headers=request.headers,
        )
        if request.username and request.user:
            event["requestContext"]["authorizer"]["claims"]["username"] = request.username
        if request.source_ip:
            event["requestContext"]["identity"]["sourceIp"] = request.source_ip
        with contextlib.redirect_stdout(io.StringIO()):  # the functions' EMF metric records
            response = module.lambda_handler(event, lambda_context())
        body = response.get("body")
        try:
            return response["statusCode"], json.loads(body) if body else None
        except ValueError:
            return response["statusCode"], body

    def api(self, function: str, route: str, request: Request, expect: int | None = None) -> Any:
        """A setup request, through the function's setup environment."""
        method, resource = route.split(" ", 1)
        status, body = self.invoke(self.setup(function), method, resource, request)
        if expect is not None and status != expect:
            raise AssertionError(f"setup {route}: {status} {body}")
        return body

    # -- preconditions -----------------------------------------------------------------------------

    def receipt(self, user: str, **fields: Any) -> dict[str, Any]:
        """A receipt created through the API (with its fingerprints), of a purchase of its own:
        two preconditions are never a pair of possible duplicates."""
        self.receipts_made += 1
        made = self.receipts_made
        total = f"{100 + made}.99"
        body = {
            "storeName": f"MediaMarkt {made}",
            "purchaseDate": f"2026-{made % 12 + 1:02d}-{made % 28 + 1:02d}",
            "totalAmount": total,
            "currency": "EUR",
            "category": "Electronics",
            "warrantyMonths": 24,
            "items": [{"description": "Headphones", "quantity": 1, "unitPrice": total, "totalPrice": total}],
            "ocrRawText": f"MEDIAMARKT {made}\nHEADPHONES {total}\nTOTAL {total}\n{uuid.uuid4()}",
            **fields,
        }
        return dict(self.api("receipt_crud", "POST /receipts", Request(body=body, user=user), 201))

    def deleted_receipt(self, user: str) -> dict[str, Any]:
        receipt = self.receipt(user)
        path = {"receiptId": receipt["receiptId"]}
        return dict(self.api("receipt_crud", "DELETE /receipts/{receiptId}", Request(path=path, user=user), 200))

    def receipt_with_image(self, user: str) -> tuple[dict[str, Any], str]:
        receipt = self.receipt(user)
        image_id = str(uuid.uuid4())
        prefix = f"users/{user}/receipts/{receipt['receiptId']}"
        self.table.update_item(
            Key={"PK": f"USER#{user}", "SK": f"RECEIPT#{receipt['receiptId']}"},
            UpdateExpression="SET imageKeys = :o, thumbnailKeys = :t",
            ExpressionAttributeValues={
                ":o": [f"{prefix}/original/{image_id}.jpg"],
                ":t": [f"{prefix}/thumbnail/{image_id}.jpg"],
            },
        )
        return receipt, image_id

    def checked(self) -> None:
        """duplicate-checker has seen every change so far, as it soon has in AWS (its calls are a
        precondition's, not the route's: it runs from the table's stream)."""
        from tests.support.receipt_changes import ReceiptChanges

        if self._changes is None:
            self._changes = ReceiptChanges(self.setup("duplicate_checker"), self.table.name)
        self._changes.deliver()

    def duplicate_pair(self, user: str) -> tuple[dict[str, Any], dict[str, Any]]:
        text = "LIDL ATHENS\nMILK 1.09\nBREAD 2.10\nEGGS 3.20\nTOTAL 6.39\nVISA ****1234\n12/03/2026 18:04"
        fields = {
            "storeName": "Lidl",
            "purchaseDate": "2026-03-12",
            "totalAmount": "6.39",
            "ocrRawText": text,
            "category": "Groceries",
            "items": [],
        }
        first = self.receipt(user, **fields)
        second = self.receipt(user, **fields)
        self.checked()
        first, second = (
            self.api("receipt_crud", "GET /receipts/{receiptId}", Request(path=_receipt_path(receipt), user=user), 200)
            for receipt in (first, second)
        )
        if not second.get("possibleDuplicates"):
            raise AssertionError(f"no pair flagged: {second}")
        return first, second

    def cognito_user(self) -> tuple[str, str]:
        import boto3

        cognito = boto3.client("cognito-idp")
        username = f"{uuid.uuid4().hex[:12]}@example.com"
        cognito.admin_create_user(UserPoolId=self.pool, Username=username, MessageAction="SUPPRESS")
        attributes = cognito.admin_get_user(UserPoolId=self.pool, Username=username)["UserAttributes"]
        return next(a["Value"] for a in attributes if a["Name"] == "sub"), username


def _receipt_path(receipt: dict[str, Any]) -> dict[str, str]:
    return {"receiptId": receipt["receiptId"]}


def _update_body(receipt: dict[str, Any]) -> dict[str, Any]:
    fields = ("storeName", "purchaseDate", "totalAmount", "currency", "category", "warrantyMonths", "items")
    return {
        **{name: receipt[name] for name in fields if name in receipt},
        "notes": "kept the box",
        "serverVersion": receipt["serverVersion"],
    }


def _push_items(bench: Bench, user: str, count: int, edits: bool) -> list[dict[str, Any]]:
    if edits:
        return [
            {
                "receiptId": receipt["receiptId"],
                "serverVersion": receipt["serverVersion"],
                "mutationId": str(uuid.uuid4()),
                "notes": "edited offline",
            }
            for receipt in (bench.receipt(user) for _ in range(count))
        ]
    return [  # receipts of different purchases: no duplicates of each other
        {
            "receiptId": str(uuid.uuid4()),
            "mutationId": str(uuid.uuid4()),
            "storeName": f"Store {index}",
            "purchaseDate": f"2026-03-{index + 1:02d}",
            "totalAmount": f"{index + 6}.39",
            "currency": "EUR",
            "category": "Groceries",
        }
        for index in range(count)
    ]


def _deletion_token(bench: Bench) -> Request:
    sub, username = bench.cognito_user()
    return Request(user=sub, username=username)


def _delete_account(bench: Bench) -> Request:
    sub, username = bench.cognito_user()
    bench.receipt(sub)
    token = bench.api("user_deletion", "POST /user/account/deletion-token", Request(user=sub, username=username), 200)
    return Request(user=sub, username=username, headers={"X-Deletion-Token": token["deletionToken"]})


def _feed(bench: Bench, user: str) -> Request:
    bench.receipt(user, purchaseDate=time.strftime("%Y-%m-%d"))
    url = bench.api("calendar_feed", "POST /user/calendar-feed", Request(user=user), 201)["feedUrl"]
    return Request(
        path={"feedFile": url.rsplit("/", 1)[1]}, user=None, source_ip=f"198.51.100.{uuid.uuid4().int % 250}"
    )


def _device(bench: Bench, user: str) -> dict[str, Any]:
    body = {"platform": "android", "token": f"fcm:{uuid.uuid4().hex}{uuid.uuid4().hex}"}
    return dict(bench.api("user_settings", "POST /user/devices", Request(body=body, user=user), 201))


def _settings(version: int) -> dict[str, Any]:
    return {
        "reminderDaysBefore": [7, 30],
        "weeklyDigestEnabled": True,
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
        "serverVersion": version,
    }


def _current_settings_version(bench: Bench, user: str) -> int:
    return int(bench.api("user_settings", "GET /user/settings", Request(user=user), 200)["serverVersion"])


def _categories_version(bench: Bench, user: str) -> int:
    return int(bench.api("category_handler", "GET /categories", Request(user=user), 200)["version"])


SCENARIOS: list[Scenario] = [
    Scenario("GET /health", "health", 200, lambda b, u: Request(user=u)),
    # -- receipts
    Scenario(
        "POST /receipts",
        "receipt_crud",
        201,
        lambda b, u: Request(
            body={
                "storeName": "Lidl",
                "purchaseDate": "2026-03-12",
                "totalAmount": "6.39",
                "currency": "EUR",
                "category": "Groceries",
                "ocrRawText": f"LIDL\nTOTAL 6.39\n{uuid.uuid4()}",
            },
            user=u,
        ),
    ),
    Scenario(
        "GET /receipts",
        "receipt_crud",
        200,
        lambda b, u: (b.receipt(u), Request(query={"limit": "20"}, user=u))[1],
        "a page of the user's receipts",
    ),
    Scenario(
        "GET /receipts/{receiptId}", "receipt_crud", 200, lambda b, u: Request(path=_receipt_path(b.receipt(u)), user=u)
    ),
    Scenario(
        "PUT /receipts/{receiptId}",
        "receipt_crud",
        200,
        lambda b, u: (lambda r: Request(path=_receipt_path(r), body=_update_body(r), user=u))(b.receipt(u)),
    ),
    Scenario(
        "PATCH /receipts/{receiptId}/status",
        "receipt_crud",
        200,
        lambda b, u: (
            lambda r: Request(
                path=_receipt_path(r), body={"status": "archived", "serverVersion": r["serverVersion"]}, user=u
            )
        )(b.receipt(u)),
    ),
    Scenario(
        "DELETE /receipts/{receiptId}",
        "receipt_crud",
        200,
        lambda b, u: Request(path=_receipt_path(b.receipt(u)), user=u),
    ),
    Scenario(
        "POST /receipts/{receiptId}/restore",
        "receipt_crud",
        200,
        lambda b, u: Request(path=_receipt_path(b.deleted_receipt(u)), user=u),
    ),
    Scenario("GET /receipts/duplicates", "receipt_crud", 200, lambda b, u: (b.duplicate_pair(u), Request(user=u))[1]),
    Scenario(
        "POST /receipts/{receiptId}/duplicates/{otherReceiptId}",
        "receipt_crud",
        200,
        lambda b, u: (
            lambda pair: Request(
                path={"receiptId": pair[0]["receiptId"], "otherReceiptId": pair[1]["receiptId"]},
                body={
                    "action": "keep_both",
                    "serverVersion": pair[0]["serverVersion"],
                    "otherServerVersion": pair[1]["serverVersion"],
                },
                user=u,
            )
        )(b.duplicate_pair(u)),
    ),
    Scenario(
        "POST /receipts/{receiptId}/claims",
        "receipt_crud",
        201,
        lambda b, u: (
            lambda r: Request(
                path=_receipt_path(r),
                body={"serverVersion": r["serverVersion"], "openedAt": time.strftime("%Y-%m-%d"), "reference": "RMA-1"},
                user=u,
            )
        )(b.receipt(u)),
    ),
    Scenario(
        "PATCH /receipts/{receiptId}/claims/{claimId}",
        "receipt_crud",
        200,
        lambda b, u: (
            lambda opened: Request(
                path={"receiptId": opened["receiptId"], "claimId": opened["claims"][0]["claimId"]},
                body={
                    "serverVersion": opened["serverVersion"],
                    "status": "rejected",
                    "closedAt": time.strftime("%Y-%m-%d"),
                },
                user=u,
            )
        )(
            (
                lambda r: b.api(
                    "receipt_crud",
                    "POST /receipts/{receiptId}/claims",
                    Request(
                        path=_receipt_path(r),
                        body={"serverVersion": r["serverVersion"], "openedAt": time.strftime("%Y-%m-%d")},
                        user=u,
                    ),
                    201,
                )
            )(b.receipt(u))
        ),
    ),
    # -- images and refinement
    Scenario(
        "POST /receipts/{receiptId}/images/upload-url",
        "presigned_url_generator",
        200,
        lambda b, u: Request(
            path=_receipt_path(b.receipt(u)), body={"contentType": "image/jpeg", "contentLength": 2_000_000}, user=u
        ),
    ),
    Scenario(
        "GET /receipts/{receiptId}/images/{imageId}/download-url",
        "presigned_url_generator",
        200,
        lambda b, u: (lambda pair: Request(path={"receiptId": pair[0]["receiptId"], "imageId": pair[1]}, user=u))(
            b.receipt_with_image(u)
        ),
    ),
    Scenario(
        "POST /receipts/{receiptId}/refine",
        "ocr_refine",
        200,
        lambda b, u: Request(path=_receipt_path(b.receipt(u)), body={}, user=u),
        "Bedrock Converse counted by the stand-in",
    ),
    # -- categories, settings, devices, inbound address, calendar
    Scenario("GET /categories", "category_handler", 200, lambda b, u: Request(user=u)),
    Scenario(
        "PUT /categories",
        "category_handler",
        200,
        lambda b, u: Request(
            body={"custom": ["Garden", f"Hobby {uuid.uuid4().hex[:6]}"], "version": _categories_version(b, u)}, user=u
        ),
    ),
    Scenario("GET /user/settings", "user_settings", 200, lambda b, u: Request(user=u)),
    Scenario(
        "PUT /user/settings",
        "user_settings",
        200,
        lambda b, u: Request(body=_settings(_current_settings_version(b, u)), user=u),
    ),
    Scenario(
        "POST /user/devices",
        "user_settings",
        201,
        lambda b, u: Request(
            body={"platform": "android", "token": f"fcm:{uuid.uuid4().hex}{uuid.uuid4().hex}"}, user=u
        ),
    ),
    Scenario(
        "DELETE /user/devices/{deviceId}",
        "user_settings",
        204,
        lambda b, u: Request(path={"deviceId": _device(b, u)["deviceId"]}, user=u),
    ),
    Scenario("POST /user/inbound-address", "user_settings", 201, lambda b, u: Request(user=str(uuid.uuid4()))),
    Scenario(
        "DELETE /user/inbound-address",
        "user_settings",
        204,
        lambda b, u: (b.api("user_settings", "POST /user/inbound-address", Request(user=u), 201), Request(user=u))[1],
    ),
    Scenario("POST /user/calendar-feed", "calendar_feed", 201, lambda b, u: Request(user=u)),
    Scenario(
        "DELETE /user/calendar-feed",
        "calendar_feed",
        204,
        lambda b, u: (b.api("calendar_feed", "POST /user/calendar-feed", Request(user=u), 201), Request(user=u))[1],
    ),
    Scenario("GET /calendar/{feedFile}", "calendar_feed", 200, _feed, "public: no user, no erasure check"),
    # -- sync
    Scenario(
        "POST /sync/pull", "sync_handler", 200, lambda b, u: (b.receipt(u), Request(body={"limit": 100}, user=u))[1]
    ),
    Scenario(
        "POST /sync/full", "sync_handler", 200, lambda b, u: (b.receipt(u), Request(body={"limit": 100}, user=u))[1]
    ),
    Scenario(
        "POST /sync/push",
        "sync_handler",
        200,
        lambda b, u: Request(body={"items": _push_items(b, u, 1, edits=True)}, user=u),
        "one edit of an existing receipt; n items: see the push formula",
    ),
    # -- export and erasure
    Scenario("POST /user/export", "export_request", 202, lambda b, u: (b.receipt(u), Request(user=u))[1]),
    Scenario(
        "GET /user/export/{exportId}",
        "export_request",
        200,
        lambda b, u: Request(
            path={"exportId": b.api("export_request", "POST /user/export", Request(user=u), 202)["exportId"]}, user=u
        ),
    ),
    Scenario(
        "POST /user/account/deletion-token",
        "user_deletion",
        200,
        lambda b, u: _deletion_token(b),
        "a new Cognito user each time",
    ),
    Scenario(
        "DELETE /user/account",
        "user_deletion",
        202,
        lambda b, u: _delete_account(b),
        "a new Cognito user with one receipt each time",
    ),
]


# -- measuring --------------------------------------------------------------------------------


def _summary(calls: list[Call]) -> dict[str, Any]:
    dynamo = Counter(call.name for call in calls if call.service == "DynamoDB")
    other = Counter(f"{call.service} {call.operation}" for call in calls if call.service != "DynamoDB")
    by_service: dict[str, Counter[str]] = {}
    for call in calls:
        by_service.setdefault(call.service, Counter())[call.operation] += 1
    return {
        "calls": {service: dict(sorted(ops.items())) for service, ops in sorted(by_service.items())},
        "dynamodb": dict(sorted(dynamo.items())),
        "other": dict(sorted(other.items())),
        "rcu": sum(call.rcu for call in calls),
        "wcu": sum(call.wcu for call in calls),
        "moto_units": sum(call.moto_units or 0 for call in calls if call.service == "DynamoDB"),
    }


def _difference(first: list[Call], warm: list[Call]) -> dict[str, int]:
    counts = Counter(f"{call.service} {call.name}" for call in first)
    counts.subtract(Counter(f"{call.service} {call.name}" for call in warm))
    return {name: count for name, count in sorted(counts.items()) if count > 0}


def measure_route(bench: Bench, scenario: Scenario) -> dict[str, Any]:
    method, resource = scenario.route.split(" ", 1)
    bench.new_table()
    module = bench.fresh(scenario.function)
    user = str(uuid.uuid4())
    runs = []
    for _ in range(2):
        request = scenario.prepare(bench, user)
        bench.bedrock_calls = 0
        with bench.meter.recording() as calls:
            status, body = bench.invoke(module, method, resource, request)
        if status != scenario.status:
            raise AssertionError(f"{scenario.route}: {status} {body}")
        if bench.bedrock_calls:
            calls.extend(Call("Bedrock Runtime", "Converse", True) for _ in range(bench.bedrock_calls))
        runs.append(calls)
    first, warm = runs
    return {
        "route": scenario.route,
        "note": scenario.note,
        **_summary(warm),
        "first_request_only": _difference(first, warm),
    }


def measure_push(bench: Bench, count: int, edits: bool) -> dict[str, Any]:
    bench.new_table()
    module = bench.fresh("sync_handler")
    user = str(uuid.uuid4())
    bench.invoke(module, "POST", "/sync/pull", Request(body={"limit": 1}, user=user))  # warm: not measured
    request = Request(body={"items": _push_items(bench, user, count, edits)}, user=user)
    with bench.meter.recording() as calls:
        status, body = bench.invoke(module, "POST", "/sync/push", request)
    if status != 200 or any(result["outcome"] != "accepted" for result in body["results"]):
        raise AssertionError(f"push: {status} {body}")
    return {"items": count, "kind": "edits" if edits else "new receipts", **_summary(calls)}


def run(routes: list[str] | None = None, capacity: bool = True) -> dict[str, Any]:
    """Every scenario (or those of `routes`) measured in a fresh moto; the result as --json writes
    it. Without `capacity`, calls are counted but not priced (faster: for the budget test)."""
    use_bench_environment(**FUNCTION_VARIABLES)
    from moto import mock_aws

    meter = Meter(capacity)
    with mock_aws():
        meter.install()
        try:
            bench = Bench(meter)
            bench.create_resources()
            chosen = [scenario for scenario in SCENARIOS if routes is None or scenario.route in routes]
            rows = [measure_route(bench, scenario) for scenario in chosen]
            pushes = [measure_push(bench, count, edits) for edits in (False, True) for count in PUSH_SIZES]
        finally:
            meter.uninstall()
    return {"routes": rows, "push": pushes}


def push_formula(pushes: list[dict[str, Any]], kind: str) -> dict[str, dict[str, dict[str, float]]]:
    """Calls of a push of n items of `kind` as fixed + per_item × n, from the two sizes measured."""
    small, large = (next(p for p in pushes if p["kind"] == kind and p["items"] == n) for n in PUSH_SIZES)
    steps = PUSH_SIZES[1] - PUSH_SIZES[0]
    formula: dict[str, dict[str, dict[str, float]]] = {"fixed": {}, "per_item": {}}
    for service in sorted({*small["calls"], *large["calls"]}):
        for operation in sorted({*small["calls"].get(service, {}), *large["calls"].get(service, {})}):
            low = small["calls"].get(service, {}).get(operation, 0)
            high = large["calls"].get(service, {}).get(operation, 0)
            per_item = (high - low) / steps
            fixed = low - per_item * PUSH_SIZES[0]
            if fixed:
                formula["fixed"].setdefault(service, {})[operation] = fixed
            if per_item:
                formula["per_item"].setdefault(service, {})[operation] = per_item
    return formula


def budget_of(result: dict[str, Any]) -> dict[str, Any]:
    """The budget file's content for a measurement: what `--write-budget` records."""
    kinds = sorted({push["kind"] for push in result["push"]})
    return {
        "routes": {row["route"]: row["calls"] for row in sorted(result["routes"], key=lambda row: row["route"])},
        "push": {kind: push_formula(result["push"], kind) for kind in kinds},
    }


def _calls(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items()) or "—"


def _units(value: float) -> str:
    return f"{value:g}"


def table_lines(result: dict[str, Any]) -> list[str]:
    lines = [
        "| route | DynamoDB calls per request | other AWS calls | RCU | WCU | moto's CU | first request only |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["routes"]:
        note = f" ({row['note']})" if row["note"] else ""
        lines.append(
            f"| {row['route']}{note} | {_calls(row['dynamodb'])} | {_calls(row['other'])} | {_units(row['rcu'])} "
            f"| {_units(row['wcu'])} | {_units(row['moto_units'])} | {_calls(row['first_request_only'])} |"
        )
    lines += ["", "| sync push | DynamoDB calls | RCU | WCU |", "|---|---|---|---|"]
    for push in result["push"]:
        lines.append(
            f"| {push['items']} {push['kind']} | {_calls(push['dynamodb'])} | {_units(push['rcu'])} "
            f"| {_units(push['wcu'])} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--write-budget", action="store_true", help=f"record the counts in {BUDGET_PATH.name}")
    args = parser.parse_args()
    started = time.perf_counter()
    result = run()
    missing = sorted(set(contract_routes()) - {row["route"] for row in result["routes"]})
    print(f"AWS calls per API operation, warm environment, moto in-process ({time.perf_counter() - started:.1f} s)\n")
    print("\n".join(table_lines(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.write_budget:
        BUDGET_PATH.write_text(json.dumps(budget_of(result), indent=2) + "\n")
    if missing:
        print(f"\nroutes of the contract without a scenario: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
