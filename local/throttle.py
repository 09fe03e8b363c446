"""The stage's method throttling, as API Gateway applies it: a token bucket per method.

`MethodSettings` of the template's API give each method a steady rate (requests per second) and
a burst (the bucket's size); a method whose bucket is empty answers the THROTTLED gateway
response (429) until tokens come back. `ResourcePath: "/*"` with `HttpMethod: "*"` sets every
method's limits, each method still with a bucket of its own; a setting for one method
(`/~1receipts~1{id}` and `GET`) overrides it. The account's limit (10,000 rps) and usage plans
(which apply to API keys, and the app sends none) are not modelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from local.cfn_template import TemplateNode


@dataclass
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # the bucket's size, and what it starts with
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class MethodLimit:
    rate: float
    burst: float


class StageThrottle:
    def __init__(
        self,
        default: MethodLimit | None,
        per_method: Mapping[tuple[str, str], MethodLimit] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.default = default
        self.per_method = dict(per_method or {})
        self.clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_template(
        cls, template: Mapping[str, TemplateNode], resolve: Callable[[TemplateNode], TemplateNode]
    ) -> StageThrottle | None:
        """The throttle of the template's REST API stage, or None when it sets none."""
        for resource in template["Resources"].values():
            if resource["Type"] not in ("AWS::Serverless::Api", "AWS::ApiGateway::Stage"):
                continue
            default, per_method = None, {}
            for setting in resolve(resource["Properties"].get("MethodSettings", [])):
                if "ThrottlingRateLimit" not in setting and "ThrottlingBurstLimit" not in setting:
                    continue
                limit = MethodLimit(
                    float(setting.get("ThrottlingRateLimit", 10000)), float(setting.get("ThrottlingBurstLimit", 5000))
                )
                path, method = setting.get("ResourcePath", "/*"), setting.get("HttpMethod", "*")
                if (path, method) == ("/*", "*"):
                    default = limit
                else:
                    per_method[(method.upper(), path[1:].replace("~1", "/"))] = limit  # "/~1receipts" is /receipts
            if default or per_method:
                return cls(default, per_method)
        return None

    def allow(self, method: str, resource_path: str) -> bool:
        """Take a token from this method's bucket: False when it has none (429)."""
        key = (method.upper(), resource_path)
        limit = self.per_method.get(key, self.default)
        if limit is None:
            return True
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(limit.rate, limit.burst, updated=self.clock())
            return bucket.take(self.clock())
