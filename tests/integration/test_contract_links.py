"""Every link of api/openapi.yaml, followed against the local stack: the scenarios the contract
promises (create, then read, update, change the status of, delete, restore; a retried create;
register a device, retry it, remove it twice; request an export, then read its status), each
answer a documented status with a body its schema accepts.

The fuzz's stateful phase explores these links at random and may leave some unfollowed in a
run; this walk follows each one, every run, from the responses themselves: a link's runtime
expressions (`$response.body#/…`, `$request.path.…`, `$request.body`) are resolved as a client
generated from the contract would.
"""

from __future__ import annotations

import copy
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

import yaml
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from local.cfn_template import OPENAPI_PATH
from tests.integration.conftest import HttpResult, http, new_user_token

CONTRACT_URI = "urn:receiptvault:contract"
# The operations a walk starts from (they need no id), with a body a client would send.
ENTRY_BODIES: dict[str, Any] = {
    "createReceipt": lambda: {"receiptId": str(uuid.uuid4()), "storeName": "Link walk", "totalAmount": "9.99"},
    "registerDevice": lambda: {"platform": "android", "token": f"fcm:{uuid.uuid4().hex}"},
    "requestExport": lambda: {},
}


def _openapi_nullable_as_draft4(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` in the draft-4 words a validator knows."""
    if isinstance(node, dict):
        converted = {key: _openapi_nullable_as_draft4(value) for key, value in node.items()}
        if converted.pop("nullable", False) and "type" in converted:
            converted["type"] = [converted["type"], "null"]
        return converted
    if isinstance(node, list):
        return [_openapi_nullable_as_draft4(item) for item in node]
    return node


CONTRACT = yaml.safe_load(OPENAPI_PATH.read_text())
REGISTRY = Registry().with_resource(CONTRACT_URI, DRAFT4.create_resource(_openapi_nullable_as_draft4(CONTRACT)))
OPERATIONS = {
    operation["operationId"]: (method.upper(), path, operation)
    for path, methods in CONTRACT["paths"].items()
    for method, operation in methods.items()
    if isinstance(operation, dict) and "operationId" in operation
}


@dataclass(frozen=True)
class Call:
    operation_id: str
    path_parameters: dict[str, str]
    body: Any
    result: HttpResult


def _declared_links() -> set[tuple[str, str, str]]:
    return {
        (operation_id, status, name)
        for operation_id, (_, _, operation) in OPERATIONS.items()
        for status, response in operation["responses"].items()
        for name in (response.get("links") or {})
    }


def _resolve(expression: Any, call: Call) -> Any:
    if not isinstance(expression, str) or not expression.startswith("$"):
        return expression
    if expression == "$request.body":
        return copy.deepcopy(call.body)
    if expression.startswith("$request.path."):
        return call.path_parameters[expression.removeprefix("$request.path.")]
    if expression.startswith("$response.body#/"):
        value = call.result.body
        for part in expression.removeprefix("$response.body#/").split("/"):
            value = value[part]
        return value
    raise AssertionError(f"a runtime expression this walk does not know: {expression}")


def _call(stack, token: str, operation_id: str, path_parameters: dict[str, str], body: Any) -> Call:
    method, path, operation = OPERATIONS[operation_id]
    target = path.format(**path_parameters)
    result = http(stack, method, target, body, token=token)
    documented = operation["responses"].get(str(result.status))
    assert documented is not None, f"{operation_id} answered an undocumented {result.status}: {result.body}"
    schema = (documented.get("content") or {}).get("application/json", {}).get("schema")
    if schema is not None:
        reference = schema.get("$ref", "").removeprefix("#")
        validator = Draft4Validator({"$ref": f"{CONTRACT_URI}#{reference}"} if reference else schema, registry=REGISTRY)
        problems = [error.message for error in validator.iter_errors(result.body)]
        assert not problems, f"{operation_id} {result.status}: {problems}"
    return Call(operation_id, path_parameters, body, result)


def _follow(stack, token: str, call: Call, name: str) -> Call:
    _, _, operation = OPERATIONS[call.operation_id]
    link = operation["responses"][str(call.result.status)]["links"][name]
    parameters = {key: str(_resolve(value, call)) for key, value in (link.get("parameters") or {}).items()}
    body = link.get("requestBody")
    body = (
        {key: _resolve(value, call) for key, value in body.items()} if isinstance(body, dict) else _resolve(body, call)
    )
    return _call(stack, token, link["operationId"], parameters, body)


def _replay(stack, token: str, entry: str, chain: list[str]) -> Call:
    """The chain of links from a fresh resource of `entry`: each link leaves from the answer it
    names, untouched by any other link."""
    call = _call(stack, token, entry, {}, ENTRY_BODIES[entry]())
    for name in chain:
        call = _follow(stack, token, call, name)
    return call


def test_every_link_of_the_contract_leads_to_a_documented_answer(stack):
    token = new_user_token(stack)
    followed: set[tuple[str, str, str]] = set()
    chains = deque((entry, []) for entry in ENTRY_BODIES)

    while chains:
        entry, chain = chains.popleft()
        call = _replay(stack, token, entry, chain)
        _, _, operation = OPERATIONS[call.operation_id]
        for name in operation["responses"][str(call.result.status)].get("links") or {}:
            key = (call.operation_id, str(call.result.status), name)
            if key not in followed:
                followed.add(key)
                chains.append((entry, [*chain, name]))

    assert followed == _declared_links()
