"""One local stack per test module, on free ports, from template.yaml plus probe functions."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt

from local import example_client
from local.cfn_template import load_template
from local.clock import epoch_seconds
from local.cognito import signing_key
from local.stack import LocalStack, StackConfig

PROBES = Path(__file__).parent / "probes"


def new_user_token(stack: LocalStack) -> str:
    """A new user of the emulated pool, signed up, confirmed and signed in: their access token."""
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    return example_client.sign_up_and_sign_in(stack.config_document(), email, "Sup3r-Secret!")


def forged_token(stack: LocalStack, **claims: Any) -> str:
    """A token signed with the emulated pool's own key (the stack runs in this process, so its
    key is at hand) and naming it, issued now on the stack's clock, so only the claims given
    here are wrong."""
    key = signing_key()
    now = int(epoch_seconds())
    payload = {
        "iss": f"https://cognito-idp.eu-west-1.amazonaws.com/{stack.user_pool_id}",
        "sub": str(uuid.uuid4()),
        "client_id": stack.user_pool_client_id,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "iat": now,
        "exp": now + 3600,
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, payload, key)


def _function(code_uri: str, environment: dict[str, Any], events: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": code_uri,
            "Handler": "app.lambda_handler",
            "Role": {"Fn::GetAtt": ["ProbeRole", "Arn"]},
            "Environment": {"Variables": environment},
            "Events": events or {},
        },
    }


def probe_template(reloadable_dir: Path) -> dict[str, Any]:
    """template.yaml with probe functions: an SQS consumer, a schedule, twins, a reloadable one,
    and probes of the execution environment (one with reserved concurrency 1)."""
    template = copy.deepcopy(load_template())
    table = {"TABLE_NAME": {"Ref": "ReceiptVaultTable"}}
    template["Resources"].update(
        {
            # The probes write what they saw to the table; anything else is refused, as in AWS.
            "ProbeRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": "probe",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "dynamodb:PutItem",
                                        "Resource": {"Fn::GetAtt": ["ReceiptVaultTable", "Arn"]},
                                    },
                                    {
                                        "Effect": "Allow",
                                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                        "Resource": "*",
                                    },
                                ],
                            },
                        }
                    ],
                },
            },
            "ProbeDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "probe-dlq"}},
            "ProbeQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": "probe",
                    "VisibilityTimeout": 30,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["ProbeDeadLetterQueue", "Arn"]},
                        "maxReceiveCount": 2,
                    },
                },
            },
            "ProbeQueueFunction": _function(
                str(PROBES / "queue_probe"),
                table,
                {
                    "Work": {
                        "Type": "SQS",
                        "Properties": {
                            "Queue": {"Fn::GetAtt": ["ProbeQueue", "Arn"]},
                            "BatchSize": 5,
                            "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        },
                    },
                },
            ),
            "ProbeScheduleFunction": _function(
                str(PROBES / "schedule_probe"),
                table,
                {
                    "Daily": {"Type": "Schedule", "Properties": {"Schedule": "cron(0 8 * * ? *)"}},
                },
            ),
            "ProbeS3Function": _function(
                str(PROBES / "s3_probe"),
                table,
                {
                    "Upload": {
                        "Type": "S3",
                        "Properties": {
                            "Bucket": {"Ref": "ImagesBucket"},
                            "Events": "s3:ObjectCreated:*",
                            "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "probe-uploads/"}]}},
                        },
                    },
                },
            ),
            "TwinAFunction": _function(str(PROBES / "twin_a"), {"TWIN_VARIABLE": "a"}),
            "TwinBFunction": _function(str(PROBES / "twin_b"), {"TWIN_VARIABLE": "b"}),
            "ReloadableFunction": _function(str(reloadable_dir), {}),
            "EnvironmentProbeFunction": _function(str(PROBES / "environment_probe"), {"TWIN_VARIABLE": "own"}),
            "ReservedProbeFunction": _function(str(PROBES / "environment_probe"), {}),
        }
    )
    template["Resources"]["EnvironmentProbeFunction"]["Properties"]["Timeout"] = 2
    template["Resources"]["ReservedProbeFunction"]["Properties"]["ReservedConcurrentExecutions"] = 1
    return template


@dataclass
class HttpResult:
    status: int
    body: Any
    headers: dict[str, str]


def http(
    stack: LocalStack,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> HttpResult:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(stack.api_url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload, status, response_headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        payload, status, response_headers = error.read(), error.code, dict(error.headers)
    return HttpResult(status, json.loads(payload) if payload else None, response_headers)


@pytest.fixture(scope="module")
def reloadable_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("reloadable")
    (directory / "app.py").write_text("def lambda_handler(event, context):\n    return {'version': 1}\n")
    return directory


@pytest.fixture(scope="module")
def stack(reloadable_dir):
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    log_lines: list[dict[str, Any]] = []
    config = StackConfig(
        api_port=0,
        aws_port=0,
        run_schedules=False,
        stage_throttling=False,
        template=probe_template(reloadable_dir),
        log=log_lines.append,
    )
    with LocalStack(config) as running:
        running.log_lines = log_lines
        yield running
