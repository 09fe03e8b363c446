"""api/openapi.yaml as the ecosystem's tools and API Gateway take it: what every operation
declares, one definition per receipt field, draft-4 request models, the servers, and the
template's API transformed with the contract inlined, as CloudFormation's AWS::Include does.

Spectral, Redocly, openapi-typescript and openapi-python-client run in `make lint`
(lint/contract/check.sh); these checks need nothing but Python.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.auth import TokenRejectedError
from local.cfn_template import OPENAPI_PATH, load_template, load_yaml
from local.gateway import Gateway
from receipt_vault.receipts import models
from tests.support.sam_transform import packaged_template, transformed

OPENAPI = load_yaml(OPENAPI_PATH)
SCHEMAS: dict[str, Any] = OPENAPI["components"]["schemas"]
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options")
OPERATIONS = [
    (path, method, operation)
    for path, item in OPENAPI["paths"].items()
    for method, operation in item.items()
    if method in HTTP_METHODS
]
# JSON Schema draft 4 has none of these: API Gateway's models ignore or refuse them.
NOT_DRAFT_4 = {"nullable", "format", "readOnly", "writeOnly", "oneOf", "anyOf", "discriminator", "example"}


def _ids(operations: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    return [f"{method.upper()} {path}" for path, method, _ in operations]


def _ref_name(schema: dict[str, Any]) -> str:
    return schema["$ref"].rsplit("/", 1)[1]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[_ref_name(schema)]
    return schema


def _reachable(schema: dict[str, Any], seen: set[str] | None = None) -> set[str]:
    """The component schemas a schema refers to, transitively."""
    seen = set() if seen is None else seen
    if isinstance(schema, dict):
        if "$ref" in schema and _ref_name(schema) not in seen:
            seen.add(_ref_name(schema))
            _reachable(SCHEMAS[_ref_name(schema)], seen)
        for value in schema.values():
            _reachable(value, seen)
    elif isinstance(schema, list):
        for value in schema:
            _reachable(value, seen)
    return seen


def _keywords(node: Any) -> set[str]:
    """Every keyword of a schema and its subschemas (property names are not keywords)."""
    if isinstance(node, dict):
        own = {key for key in node if key != "properties"}
        nested = [*node.get("properties", {}).values(), *(v for k, v in node.items() if k != "properties")]
        return own | {keyword for value in nested for keyword in _keywords(value)}
    if isinstance(node, list):
        return {keyword for value in node for keyword in _keywords(value)}
    return set()


def _validator(operation: dict[str, Any]) -> dict[str, Any]:
    name = operation.get("x-amazon-apigateway-request-validator", OPENAPI["x-amazon-apigateway-request-validator"])
    return OPENAPI["x-amazon-apigateway-request-validators"][name]


def _body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    return operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")


# -- every operation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS, ids=_ids(OPERATIONS))
def test_every_operation_has_an_id_a_tag_a_summary_a_description_and_its_4xx(path, method, operation):
    declared_tags = {tag["name"] for tag in OPENAPI["tags"]}

    assert re.fullmatch(r"[a-z][A-Za-z]+", operation["operationId"])
    assert operation["tags"] and set(operation["tags"]) <= declared_tags
    assert operation["summary"] and operation["description"]
    answers = set(operation["responses"])
    assert {"403", "429"} <= answers  # WAF and the stage's throttle come before any integration
    if operation["security"]:
        assert "401" in answers
    if "requestBody" in operation:
        assert {"400", "413"} <= answers


def test_operation_ids_are_unique():
    ids = [operation["operationId"] for _, _, operation in OPERATIONS]
    assert len(ids) == len(set(ids))


def test_a_version_conflict_carries_the_current_item_typed():
    """A 409 of a versioned write answers the current state, in the schema of what was written."""
    conflicts = {}
    for _, _, operation in OPERATIONS:
        answer = operation["responses"].get("409")
        if answer:
            conflicts[operation["operationId"]] = _ref_name(answer["content"]["application/json"]["schema"])
    assert conflicts == {
        "createReceipt": "ReceiptConflict",
        "updateReceipt": "ReceiptConflict",
        "restoreReceipt": "ReceiptConflict",
        "changeReceiptStatus": "ReceiptConflict",
        "createImageUploadUrl": "ReceiptConflict",
        "createImageDownloadUrl": "ReceiptConflict",
        "refineReceipt": "ReceiptConflict",
        "putCategories": "CategoriesConflict",
        "putUserSettings": "UserSettingsConflict",
        "registerDevice": "Error",  # the device list kept changing: nothing to carry
        "resolveDuplicatePair": "DuplicatePairConflict",
        "enableCalendarFeed": "Error",  # rotated concurrently twice: nothing to carry
        "enableInboundAddress": "Error",  # likewise
        "openClaim": "ReceiptConflict",
        "changeClaim": "ReceiptConflict",
    }
    for name, current in [
        ("ReceiptConflict", "Receipt"),
        ("CategoriesConflict", "Categories"),
        ("UserSettingsConflict", "UserSettings"),
        ("DuplicatePairConflict", "DuplicatePairReceipts"),
    ]:
        base, extension = SCHEMAS[name]["allOf"]
        assert _ref_name(base) == "Error" and _ref_name(extension["properties"]["current"]) == current


def test_every_answer_with_a_body_is_an_object_schema():
    """API Gateway takes only object models for method responses, and every error is an Error."""
    for _, _, operation in OPERATIONS:
        for code, answer in operation["responses"].items():
            for media_type, content in answer.get("content", {}).items():
                if media_type != "application/json":  # a calendar feed's text: no model, none checked
                    assert "schema" not in content and code.startswith("2"), (operation["operationId"], code)
                    continue
                schema = _resolve(content["schema"])
                assert media_type == "application/json" and schema.get("type") == "object", (
                    operation["operationId"],
                    code,
                )
                if code.startswith(("4", "5")):
                    assert "Error" in {_ref_name(content["schema"]), *_reachable(content["schema"])}


# -- one definition per receipt field ----------------------------------------------------------

CONTENT_FIELDS = [name for name in models.CLIENT_WRITABLE_FIELDS if name != "status"]


@pytest.mark.parametrize("field", CONTENT_FIELDS)
def test_each_receipt_field_is_defined_once_and_named_by_reference(field):
    create, update, receipt = (
        SCHEMAS[name]["properties"][field] for name in ("ReceiptCreate", "ReceiptUpdate", "Receipt")
    )

    assert set(create) == {"$ref"} and create == update == receipt
    # A push item's field holds the same, or null to remove it: the definition, nullable.
    definition = {key: value for key, value in _resolve(create).items() if key != "description"}
    pushed = {key: value for key, value in SCHEMAS["SyncPushItem"]["properties"][field].items() if key != "description"}
    assert pushed == {**definition, "nullable": True}


def test_the_status_and_the_ids_are_shared_too():
    push = SCHEMAS["SyncPushItem"]["properties"]
    assert _ref_name(SCHEMAS["ReceiptCreate"]["properties"]["status"]) == "ClientStatus"
    assert _ref_name(SCHEMAS["StatusChange"]["properties"]["status"]) == "ClientStatus"
    for schema in (SCHEMAS["ReceiptUpdate"], SCHEMAS["Receipt"], SCHEMAS["SyncPushItem"]):
        assert _ref_name(schema["properties"]["status"]) == "ReceiptStatus"
    for schema in ("ReceiptCreate", "ReceiptUpdate", "Receipt", "SyncPushItem"):
        assert _ref_name(SCHEMAS[schema]["properties"]["receiptId"]) == "Uuid"
    assert push["serverVersion"]["minimum"] == SCHEMAS["ReceiptUpdate"]["properties"]["serverVersion"]["minimum"]


def test_the_field_tiers_of_the_code_are_the_contracts_fields():
    """receipt_vault.receipts.models defines the tiers once; the contract's schemas hold exactly them."""
    writable = set(models.CLIENT_WRITABLE_FIELDS)
    properties = {name: set(SCHEMAS[name]["properties"]) for name in ("ReceiptCreate", "ReceiptUpdate", "Receipt")}

    assert SCHEMAS["EditableField"]["enum"] == [*models.EXTRACTABLE_FIELDS, *models.USER_OWNED_FIELDS]
    assert properties["ReceiptCreate"] == writable | {"receiptId"}
    assert properties["ReceiptUpdate"] == writable | {"receiptId", "serverVersion"} | models.ECHOED_SERVER_FIELDS
    assert properties["Receipt"] == writable | set(models.SERVER_OWNED_FIELDS) == set(models.PUBLIC_FIELDS)
    assert set(SCHEMAS["SyncPushItem"]["properties"]) == writable | {"receiptId", "mutationId", "serverVersion"}
    described = SCHEMAS["SyncPushItem"]["description"]
    assert all(name in described for name in models.USER_OWNED_FIELDS)


# -- request models API Gateway validates ------------------------------------------------------


def _validated_bodies() -> dict[str, set[str]]:
    """Each request body schema and whether API Gateway validates it: {validated: ..., not: ...}."""
    bodies: dict[str, set[str]] = {"validated": set(), "left to the function": set()}
    for _, _, operation in OPERATIONS:
        schema = _body_schema(operation)
        if schema is not None:
            key = "validated" if _validator(operation)["validateRequestBody"] else "left to the function"
            bodies[key].add(_ref_name(schema))
    return bodies


def test_request_bodies_are_closed_draft_4_models_wherever_api_gateway_validates_them():
    bodies = _validated_bodies()
    validated = set().union(*(_reachable({"$ref": f"#/components/schemas/{name}"}) for name in bodies["validated"]))

    assert bodies["left to the function"] == {"SyncPushRequest"}
    for name in bodies["validated"] | bodies["left to the function"]:
        assert SCHEMAS[name]["additionalProperties"] is False, name
    for name in validated:
        assert not _keywords(SCHEMAS[name]) & NOT_DRAFT_4, name
        assert "allOf" not in SCHEMAS[name], name  # additionalProperties: false would refuse its fields


def test_nullable_is_only_where_the_gateway_does_not_validate():
    """A null removes a push item's field; a draft-4 model would refuse it, so POST /sync/push
    has the params-only validator and its function validates each item."""
    nullable = {name for name, schema in SCHEMAS.items() if "nullable" in _keywords(schema)}

    assert nullable == {"SyncPushItem"}
    [(_, _, push)] = [entry for entry in OPERATIONS if entry[2]["operationId"] == "syncPush"]
    assert _validator(push) == {"validateRequestBody": False, "validateRequestParameters": True}
    assert all(
        _validator(operation)["validateRequestBody"]
        for _, _, operation in OPERATIONS
        if operation["operationId"] != "syncPush"
    )


# -- servers and API Gateway's import ----------------------------------------------------------


def test_the_servers_are_the_local_stack_and_a_deployed_stage():
    local, deployed = OPENAPI["servers"]

    assert local["url"] == "http://127.0.0.1:3000"
    assert urlsplit(local["url"]).path in ("", "/")  # the first server's path would be a base path
    assert re.fullmatch(r"https://\{apiId\}\.execute-api\.\{region\}\.amazonaws\.com/\{stage\}", deployed["url"])
    assert set(deployed["variables"]) == {"apiId", "region", "stage"}  # no `basePath` variable either
    stages = load_template()["Parameters"]["Stage"]
    assert deployed["variables"]["stage"]["enum"] == stages["AllowedValues"]
    assert deployed["variables"]["stage"]["default"] == stages["Default"]


def test_the_template_transforms_with_the_contract_as_the_rest_apis_body():
    """What CloudFormation does on deploy: AWS::Include puts the contract in DefinitionBody,
    then the SAM transform makes the RestApi. Its Body is the contract, servers included, with
    each integration's `${Function.Alias}` resolved to the alias SAM publishes; it is imported
    without a basepath parameter (`ignore`): the routes stay at the stage's root."""
    from openapi_spec_validator import validate

    resources = transformed(packaged_template())

    [api] = [resource for resource in resources.values() if resource["Type"] == "AWS::ApiGateway::RestApi"]
    contract_with_aliases = json.loads(re.sub(r"\$\{(\w+Function)\.Alias\}", r"${\1Aliaslive}", json.dumps(OPENAPI)))
    assert api["Properties"]["Body"] == contract_with_aliases
    assert "basepath" not in {name.lower() for name in api["Properties"].get("Parameters", {})}
    validate(json.loads(json.dumps(api["Properties"]["Body"])))  # a valid OpenAPI 3.0 document


# -- the local gateway honours the validators --------------------------------------------------


class _Authorizer:
    def claims(self, authorization: str | None, required_scopes: frozenset[str]) -> dict[str, str]:
        if authorization != "Bearer good":
            raise TokenRejectedError("Unauthorized")
        return {"sub": "user-1", "token_use": "access"}


def _local_gateway(calls: list[dict[str, Any]]) -> Gateway:
    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event)
        return {"statusCode": 200, "body": '{"results": []}'}

    return Gateway(OPENAPI, lambda value: value, _Authorizer(), invoke, "dev", lambda _: None)


def test_the_local_gateway_leaves_a_push_body_to_the_function():
    calls: list[dict[str, Any]] = []
    body = {"items": [{"receiptId": "0b7e7f5a-93b5-4a4c-9c43-0ac2c2d0d0a1", "serverVersion": 2, "notes": None}]}

    response = _local_gateway(calls).handle(
        "POST", "/sync/push", {"Authorization": "Bearer good"}, json.dumps(body).encode(), "127.0.0.1"
    )

    assert response.status == 200 and len(calls) == 1


def test_the_local_gateway_still_validates_every_other_body():
    calls: list[dict[str, Any]] = []

    response = _local_gateway(calls).handle(
        "POST", "/receipts", {"Authorization": "Bearer good"}, json.dumps({"storeName": None}).encode(), "127.0.0.1"
    )

    assert response.status == 400 and calls == []
