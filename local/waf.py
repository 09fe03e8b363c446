"""The template's WAF rate-based rules, applied by the local gateway when the stack enables WAF.

Only what the local stack can mean: rate-based statements keyed on the client IP or on a
header (`CUSTOM_KEYS` with one `Header`), each with its window, limit and block action
(a custom response: status, headers, body). A rule's plain Block has no response of its own:
API Gateway answers it with its WAF_FILTERED gateway response (403 in the contract's error
shape), as the deployed stage does. Managed rule groups are not emulated. A request without the
rule's key is not counted, as in WAF.

WAF counts with a delay of some seconds and blocks a little after the limit is crossed; this
counts exactly, so a test sees the limit where the template puts it.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from local.cfn_template import Template, TemplateNode


@dataclass(frozen=True)
class CustomResponse:
    """A Block action's own answer, which WAF sends without asking the stage."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Blocked:
    rule: str
    response: CustomResponse | None  # None: the stage's WAF_FILTERED gateway response


@dataclass
class RateRule:
    name: str
    limit: int
    window_seconds: int
    header: str | None  # None: keyed on the client IP
    response: CustomResponse | None
    _seen: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key_of(self, headers: dict[str, str], source_ip: str) -> str | None:
        if self.header is None:
            return source_ip
        wanted = self.header.lower()
        return next((value for name, value in headers.items() if name.lower() == wanted), None)

    def blocks(self, key: str) -> bool:
        """Count this request; True when the key is over the limit in the window."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen[key]
            while seen and seen[0] <= now - self.window_seconds:
                seen.popleft()
            seen.append(now)
            return len(seen) > self.limit


class WebAclRules:
    def __init__(self, rules: list[RateRule]) -> None:
        self.rules = rules

    @classmethod
    def from_template(
        cls, template: Template, resolve: Callable[[TemplateNode], TemplateNode], is_enabled: Callable[[str], bool]
    ) -> WebAclRules:
        rules: list[RateRule] = []
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::WAFv2::WebACL" or not is_enabled(logical_id):
                continue
            properties = resolve(resource["Properties"])
            bodies = properties.get("CustomResponseBodies", {})
            for rule in sorted(properties.get("Rules", []), key=lambda r: r.get("Priority", 0)):
                statement = rule.get("Statement", {}).get("RateBasedStatement")
                if statement is not None:
                    rules.append(_rate_rule(rule, statement, bodies))
        return cls(rules)

    def check(self, headers: dict[str, str], source_ip: str) -> Blocked | None:
        """The block of the first rule the request trips, or None to let it through."""
        for rule in self.rules:
            key = rule.key_of(headers, source_ip)
            if key is not None and rule.blocks(key):
                return Blocked(rule.name, rule.response)
        return None


def _rate_rule(rule: Template, statement: Template, bodies: Template) -> RateRule:
    header = None
    if statement.get("AggregateKeyType") == "CUSTOM_KEYS":
        [custom] = statement["CustomKeys"]  # the one kind the template uses
        header = custom["Header"]["Name"]
    custom = rule.get("Action", {}).get("Block", {}).get("CustomResponse")
    response = None
    if custom is not None:
        content = bodies.get(custom.get("CustomResponseBodyKey"), {})
        kind = "application/json" if content.get("ContentType") == "APPLICATION_JSON" else "text/plain"
        response = CustomResponse(
            status=int(custom["ResponseCode"]),
            headers=[("Content-Type", kind)]
            + [(item["Name"], str(item["Value"])) for item in custom.get("ResponseHeaders", [])],
            body=str(content.get("Content", "")).encode("utf-8"),
        )
    return RateRule(
        name=rule["Name"],
        limit=int(statement["Limit"]),
        window_seconds=int(statement.get("EvaluationWindowSec", 300)),
        header=header,
        response=response,
    )
