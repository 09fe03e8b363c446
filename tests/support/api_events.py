"""API Gateway (REST, proxy integration) events, shaped as the Cognito authorizer delivers them,
and the Lambda context a handler is invoked with."""

from __future__ import annotations

import json
import uuid
from typing import Any

from local.runtime import LocalContext


def api_event(
    method: str,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    user: str | None = "user-a",
    token_use: str = "access",
    headers: dict[str, str] | None = None,
    stage: str = "dev",
) -> dict[str, Any]:
    """`resource` is the route template (`/receipts/{receiptId}`); the path is filled from it."""
    path = resource
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "}", value)
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abcdef1234",
        "resourcePath": resource,
        "httpMethod": method,
        "path": f"/{stage}{path}",
        "stage": stage,
        "protocol": "HTTP/1.1",
        "requestId": str(uuid.uuid4()),
        "requestTimeEpoch": 1767225600000,
        "identity": {"sourceIp": "198.51.100.7", "userAgent": "receiptvault-app/1.0"},
    }
    if user is not None:
        request_context["authorizer"] = {
            "claims": {
                "sub": user,
                "token_use": token_use,
                "scope": "aws.cognito.signin.user.admin",
                "client_id": "testclient",
                "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST",
                "username": user,
            }
        }
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if user is not None:
        all_headers.setdefault("Authorization", "Bearer <access token>")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": request_context,
        "body": body,
        "isBase64Encoded": False,
    }


def lambda_context(function_name: str = "test-function", timeout_seconds: int = 30) -> LocalContext:
    """The context of a fresh invocation, as the local stack's environments give it: its
    remaining time counts down from the function's timeout."""
    arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"
    return LocalContext(function_name, 256, arn, timeout_seconds)
