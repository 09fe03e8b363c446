"""Identity policies as data, and their evaluation against one authorisation request.

Evaluation follows AWS's documented logic for identity-based policies of one principal:
an explicit Deny in any statement wins; otherwise an Allow that matches action, resource and
every condition allows; otherwise the request is implicitly denied.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from receipt_vault.shapes import JsonObject, JsonValue

# -- documents -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One statement, with its intrinsics resolved. `sid` names it uniquely within its role:
    `<policy name>/<Sid>`, or `<policy name>/#<index>` for a statement without a Sid."""

    sid: str
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    # operator -> condition key (as written) -> values
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        return {
            "sid": self.sid,
            "effect": self.effect,
            "actions": list(self.actions),
            "not_actions": None if self.not_actions is None else list(self.not_actions),
            "resources": list(self.resources),
            "not_resources": None if self.not_resources is None else list(self.not_resources),
            "conditions": {
                op: {key: list(values) for key, values in keys.items()} for op, keys in self.conditions.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> Statement:
        return cls(
            sid=data["sid"],
            effect=data["effect"],
            actions=tuple(data["actions"]),
            not_actions=None if data["not_actions"] is None else tuple(data["not_actions"]),
            resources=tuple(data["resources"]),
            not_resources=None if data["not_resources"] is None else tuple(data["not_resources"]),
            conditions={op: {k: tuple(v) for k, v in keys.items()} for op, keys in data["conditions"].items()},
        )


@dataclass(frozen=True)
class RolePolicies:
    """Every identity-policy statement of one role, resolved. Picklable, and JSON through
    `to_json` / `from_json`."""

    role_logical_id: str
    role_name: str
    role_arn: str
    statements: tuple[Statement, ...]

    def to_json(self) -> JsonObject:
        return {
            "role_logical_id": self.role_logical_id,
            "role_name": self.role_name,
            "role_arn": self.role_arn,
            "statements": [statement.to_json() for statement in self.statements],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> RolePolicies:
        return cls(
            role_logical_id=data["role_logical_id"],
            role_name=data["role_name"],
            role_arn=data["role_arn"],
            statements=tuple(Statement.from_json(s) for s in data["statements"]),
        )

    def without(self, sid: str) -> RolePolicies:
        """The same role with one statement removed (mutation tests)."""
        kept = tuple(s for s in self.statements if s.sid != sid)
        if len(kept) == len(self.statements):
            raise KeyError(sid)
        return replace(self, statements=kept)


def _strings(value: object) -> tuple[str, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    return tuple(_condition_text(v) for v in values)


def _condition_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        raise ValueError(f"a policy value must be a string, number or boolean, not {value!r}")
    text = str(value)
    if "${" in text:
        raise ValueError(f"policy variables are not modelled: {text!r}")
    return text


def parse_statement(raw: Mapping[str, JsonValue], sid: str) -> Statement:
    """A statement of a resolved policy document. Refuses what the evaluator does not model
    (Principal in an identity policy, unknown condition operators, policy variables)."""
    unknown = set(raw) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
    if unknown:
        raise ValueError(f"statement {sid}: elements not modelled in identity policies: {sorted(unknown)}")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise ValueError(f"statement {sid}: Effect must be Allow or Deny")
    if ("Action" in raw) == ("NotAction" in raw) or ("Resource" in raw) == ("NotResource" in raw):
        raise ValueError(f"statement {sid}: exactly one of Action/NotAction and of Resource/NotResource")
    conditions: dict[str, dict[str, tuple[str, ...]]] = {}
    for operator, keys in (raw.get("Condition") or {}).items():
        _operator_parts(operator)  # refuses unknown operators now, not at the first request
        conditions[operator] = {key: _strings(values) for key, values in keys.items()}

    def optional(name: str) -> tuple[str, ...] | None:
        return _strings(raw[name]) if name in raw else None

    return Statement(
        sid=sid,
        effect=raw["Effect"],
        actions=_strings(raw.get("Action", [])),
        not_actions=optional("NotAction"),
        resources=_strings(raw.get("Resource", [])),
        not_resources=optional("NotResource"),
        conditions=conditions,
    )


def parse_document(document: Mapping[str, JsonValue], policy_name: str) -> list[Statement]:
    raw = document.get("Statement", [])
    statements = raw if isinstance(raw, list) else [raw]
    parsed = []
    for index, statement in enumerate(statements):
        label = statement.get("Sid") or f"#{index}"
        parsed.append(parse_statement(statement, f"{policy_name}/{label}"))
    return parsed


# -- requests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One authorisation request: an action on a resource, with its request context. Context
    keys are lower-case (condition key names are case-insensitive); every value is a tuple of
    strings, so multivalued keys (dynamodb:LeadingKeys) and single ones look alike.

    `via` names the service that makes the request with the caller's credentials (S3 calling
    KMS), and `error` the error code and HTTP status the caller sees when it is denied; both
    are None for the caller's own requests."""

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    via: str | None = None
    error: tuple[str, int] | None = None


@dataclass(frozen=True)
class Evaluation:
    allowed: bool
    allowed_by: tuple[str, ...]  # every Allow statement that matched
    denied_by: tuple[str, ...]  # every Deny statement that matched

    @property
    def explicit_deny(self) -> bool:
        return bool(self.denied_by)


def evaluate(statements: Iterable[Statement], request: Request) -> Evaluation:
    allowed_by: list[str] = []
    denied_by: list[str] = []
    for statement in statements:
        if statement_matches(statement, request):
            (denied_by if statement.effect == "Deny" else allowed_by).append(statement.sid)
    return Evaluation(
        allowed=bool(allowed_by) and not denied_by, allowed_by=tuple(allowed_by), denied_by=tuple(denied_by)
    )


def statement_matches(statement: Statement, request: Request) -> bool:
    if statement.not_actions is not None:
        if any(action_matches(pattern, request.action) for pattern in statement.not_actions):
            return False
    elif not any(action_matches(pattern, request.action) for pattern in statement.actions):
        return False
    if statement.not_resources is not None:
        if any(resource_matches(pattern, request.resource) for pattern in statement.not_resources):
            return False
    elif not any(resource_matches(pattern, request.resource) for pattern in statement.resources):
        return False
    return all(
        condition_holds(operator, key, values, request.context)
        for operator, keys in statement.conditions.items()
        for key, values in keys.items()
    )


# -- matching ----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, star: str = ".*", flags: int = 0) -> re.Pattern[str]:
    """`*` any run of characters (`star`), `?` exactly one; everything else literal."""
    body = "".join(star if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, flags | re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Actions match case-insensitively, with * and ? wildcards."""
    return _glob(pattern, ".*", re.IGNORECASE).fullmatch(action) is not None


@functools.lru_cache(maxsize=4096)
def _arn_pattern(pattern: str) -> re.Pattern[str]:
    """An ARN pattern matches segment by segment: a wildcard stays within its colon-delimited
    segment, except a * that ends a segment, which may expand beyond the colon (IAM's Resource
    element docs). The resource segment, the sixth, may hold colons and slashes anyway."""
    segments = pattern.split(":", 5)
    parts = []
    for index, segment in enumerate(segments):
        if index == len(segments) - 1:
            parts.append(_glob(segment).pattern)
        else:
            body = "".join("[^:]*" if c == "*" else "[^:]" if c == "?" else re.escape(c) for c in segment)
            if segment.endswith("*"):
                body = body[: -len("[^:]*")] + ".*"
            parts.append(body)
    return re.compile(":".join(parts), re.DOTALL)


def resource_matches(pattern: str, resource: str) -> bool:
    """Resources match case-sensitively."""
    if pattern == "*":
        return True
    return _arn_pattern(pattern).fullmatch(resource) is not None


def _arn_like(value: str, pattern: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-delimited parts is checked on its own."""
    value_parts, pattern_parts = value.split(":", 5), pattern.split(":", 5)
    if len(value_parts) != 6 or len(pattern_parts) != 6:
        return False
    return all(
        _glob(p, "[^:]*" if i < 5 else ".*").fullmatch(v) is not None
        for i, (v, p) in enumerate(zip(value_parts, pattern_parts, strict=True))
    )


# -- conditions --------------------------------------------------------------------------------------


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> dt.datetime:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _ip(value: str, network: str) -> bool:
    return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)


# base operator -> (negated, does one request value match one policy value)
_MATCHERS: dict[str, tuple[bool, Callable[[str, str], bool]]] = {
    "StringEquals": (False, lambda v, p: v == p),
    "StringNotEquals": (True, lambda v, p: v == p),
    "StringEqualsIgnoreCase": (False, lambda v, p: v.lower() == p.lower()),
    "StringNotEqualsIgnoreCase": (True, lambda v, p: v.lower() == p.lower()),
    "StringLike": (False, lambda v, p: _glob(p).fullmatch(v) is not None),
    "StringNotLike": (True, lambda v, p: _glob(p).fullmatch(v) is not None),
    "NumericEquals": (False, lambda v, p: _number(v) == _number(p)),
    "NumericNotEquals": (True, lambda v, p: _number(v) == _number(p)),
    "NumericLessThan": (False, lambda v, p: _number(v) < _number(p)),
    "NumericLessThanEquals": (False, lambda v, p: _number(v) <= _number(p)),
    "NumericGreaterThan": (False, lambda v, p: _number(v) > _number(p)),
    "NumericGreaterThanEquals": (False, lambda v, p: _number(v) >= _number(p)),
    "DateEquals": (False, lambda v, p: _date(v) == _date(p)),
    "DateNotEquals": (True, lambda v, p: _date(v) == _date(p)),
    "DateLessThan": (False, lambda v, p: _date(v) < _date(p)),
    "DateLessThanEquals": (False, lambda v, p: _date(v) <= _date(p)),
    "DateGreaterThan": (False, lambda v, p: _date(v) > _date(p)),
    "DateGreaterThanEquals": (False, lambda v, p: _date(v) >= _date(p)),
    "Bool": (False, lambda v, p: v.lower() == p.lower()),
    "BinaryEquals": (False, lambda v, p: base64.b64decode(v) == base64.b64decode(p)),
    "IpAddress": (False, _ip),
    "NotIpAddress": (True, _ip),
    "ArnEquals": (False, _arn_like),
    "ArnLike": (False, _arn_like),
    "ArnNotEquals": (True, _arn_like),
    "ArnNotLike": (True, _arn_like),
}
_QUALIFIERS = ("ForAllValues:", "ForAnyValue:")


def _operator_parts(operator: str) -> tuple[str | None, str, bool]:
    """(set qualifier or None, base operator, IfExists)."""
    qualifier = next((q for q in _QUALIFIERS if operator.startswith(q)), None)
    base = operator[len(qualifier) :] if qualifier else operator
    if_exists = base.endswith("IfExists") and base != "Null"
    if if_exists:
        base = base[: -len("IfExists")]
    if base != "Null" and base not in _MATCHERS:
        raise ValueError(f"condition operator not modelled: {operator}")
    return qualifier, base, if_exists


def condition_holds(
    operator: str, key: str, policy_values: tuple[str, ...], context: Mapping[str, tuple[str, ...]]
) -> bool:
    """One key of one condition operator. A missing key (absent, or an empty set):
    ...IfExists holds; Null checks for it; ForAllValues holds (vacuously) and ForAnyValue does
    not; a negated operator (StringNotLike, ArnNotEquals, ...) holds; any other does not.
    Several policy values are alternatives: a positive operator needs one to match, a negated
    one needs none to. Without a set qualifier, several request values are treated as
    ForAnyValue for positive operators and as 'none matches' for negated ones."""
    qualifier, base, if_exists = _operator_parts(operator)
    values = context.get(key.lower()) or ()
    if base == "Null":
        return any((p.lower() == "true") == (not values) for p in policy_values)
    if not values:
        if if_exists or qualifier == "ForAllValues:":
            return True
        if qualifier == "ForAnyValue:":
            return False
        return _MATCHERS[base][0]
    negated, match = _MATCHERS[base]

    def one(value: str) -> bool:
        matched = any(match(value, p) for p in policy_values)
        return not matched if negated else matched

    if qualifier == "ForAllValues:":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue:":
        return any(one(v) for v in values)
    if negated:
        return all(one(v) for v in values)
    return any(one(v) for v in values)
