"""Per-user throttling as WAF applies it in front of the stage (EnableWaf=true): one signed-in
session over its limit gets 429 with Retry-After, and nobody else is slowed by it; an IP over its
limit gets the stage's WAF_FILTERED answer, a 403 in the contract's error shape."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import pytest

from local.stack import LOCAL_PARAMETERS, LocalStack, StackConfig
from tests.integration.conftest import http, new_user_token

LIMIT = 10
IP_LIMIT = 100  # the template's MinValue, as WAF's


def _waf_stack(**limits: str) -> LocalStack:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    parameters = {**LOCAL_PARAMETERS, "EnableWaf": "true", **limits}
    config = StackConfig(
        api_port=0, aws_port=0, stage_throttling=False, run_schedules=False, parameters=parameters, log=lambda _: None
    )
    return LocalStack(config)


@pytest.fixture(scope="module")
def guarded() -> Iterator[LocalStack]:
    with _waf_stack(WafRateLimitPerSession=str(LIMIT)) as stack:
        yield stack


def test_an_ip_over_its_limit_gets_the_stages_403_in_the_error_shape():
    with _waf_stack(WafRateLimitPerIp=str(IP_LIMIT)) as stack:
        answers = [http(stack, "GET", "/health") for _ in range(IP_LIMIT + 1)]

    assert [answer.status for answer in answers] == [200] * IP_LIMIT + [403]
    blocked = answers[-1]
    assert blocked.headers["Content-Type"] == "application/json"
    assert blocked.body["error"] == "FORBIDDEN" and blocked.body["message"] == "Forbidden"
    assert set(blocked.body) == {"error", "message", "requestId", "details"}


def test_a_session_over_its_limit_gets_429_and_other_users_are_served(guarded):
    greedy, patient = new_user_token(guarded), new_user_token(guarded)

    answers = [http(guarded, "GET", "/categories", token=greedy) for _ in range(LIMIT + 2)]
    others = http(guarded, "GET", "/categories", token=patient)
    health = http(guarded, "GET", "/health")

    assert [answer.status for answer in answers] == [200] * LIMIT + [429, 429]
    refused = answers[-1]
    assert refused.body["error"] == "RATE_LIMITED" and refused.headers["Retry-After"] == "60"
    assert others.status == 200 and health.status == 200


def test_the_local_rules_are_the_templates(guarded):
    [session, ip] = guarded.running.gateway.waf.rules

    assert (session.name, session.limit, session.window_seconds, session.header) == (
        "rate-limit-per-session",
        LIMIT,
        300,
        "authorization",
    )
    assert session.response is not None and json.loads(session.response.body)["error"] == "RATE_LIMITED"
    assert ip.header is None and ip.response is None  # a plain Block: the stage's WAF_FILTERED
