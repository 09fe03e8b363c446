"""The stage's method throttling: a token bucket per method, as the template's MethodSettings set it."""

from __future__ import annotations

from local.cfn_template import load_template
from local.throttle import MethodLimit, StageThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_template_sets_10_rps_with_a_burst_of_100_for_every_method():
    throttle = StageThrottle.from_template(load_template(), lambda value: value)

    assert throttle is not None and throttle.default == MethodLimit(10.0, 100.0)


def test_a_burst_drains_the_bucket_then_tokens_come_back_at_the_rate():
    clock = FakeClock()
    throttle = StageThrottle(MethodLimit(rate=10, burst=100), clock=clock)

    burst = [throttle.allow("GET", "/receipts") for _ in range(101)]
    clock.now += 0.5  # five tokens back
    after_half_a_second = [throttle.allow("GET", "/receipts") for _ in range(6)]

    assert burst.count(True) == 100 and burst[-1] is False
    assert after_half_a_second == [True] * 5 + [False]


def test_each_method_has_a_bucket_of_its_own_and_a_method_setting_overrides_the_stage():
    clock = FakeClock()
    throttle = StageThrottle(MethodLimit(10, 2), {("POST", "/sync/push"): MethodLimit(1, 1)}, clock=clock)

    gets = [throttle.allow("GET", "/receipts") for _ in range(3)]
    posts = [throttle.allow("POST", "/receipts") for _ in range(2)]
    pushes = [throttle.allow("post", "/sync/push") for _ in range(2)]

    assert gets == [True, True, False] and posts == [True, True] and pushes == [True, False]


def test_a_method_setting_in_cloudformations_escaped_path_form_is_read():
    template = {
        "Resources": {
            "Api": {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "MethodSettings": [
                        {
                            "ResourcePath": "/*",
                            "HttpMethod": "*",
                            "ThrottlingRateLimit": 10,
                            "ThrottlingBurstLimit": 100,
                        },
                        {
                            "ResourcePath": "/~1receipts~1{id}",
                            "HttpMethod": "GET",
                            "ThrottlingRateLimit": 1,
                            "ThrottlingBurstLimit": 1,
                        },
                    ]
                },
            }
        }
    }

    throttle = StageThrottle.from_template(template, lambda value: value)

    assert throttle is not None and throttle.per_method == {("GET", "/receipts/{id}"): MethodLimit(1.0, 1.0)}
