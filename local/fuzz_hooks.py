"""schemathesis hooks of `make fuzz`, loaded by local/schemathesis.toml into schemathesis's own
virtualenv (so this module imports nothing of the project's).

JSON Schema draft 4, the language of API Gateway's models, cannot state every rule of the API: a
rule that ties two fields together, that depends on what is stored, that names a value only the
server issues or a data set (the IANA time zones), or that counts a number's decimal digits (a
`multipleOf: 0.0001` is float arithmetic in the validators: Python's jsonschema refuses 0.3). The
contract states each in words and documents its answer, and the function gives exactly that
answer, which is right; schemathesis cannot know the rule, so it reports the answer as a failure.
`filter_failure` drops those failures, and only those: the function's own 400 naming one of the
rules below for valid data (ST202); a push's 200 whose invalid items are each `rejected` (ST201:
one bad item never fails the batch); and a receipt read after its DELETE (ST301), which is a
soft delete: the read answers the tombstone (`status: deleted`), or the receipt a restore
brought back (`after_call` keeps the run's calls in order to tell); and a device's DELETE that is
a 404 after its token was registered again under another deviceId (ST302): the same token on the
same platform is the same device, so that registration replaced it (a reinstalled app), which the
check, counting only DELETEs as removals, cannot know. Every other failure stays one.
"""

from __future__ import annotations

import atexit
import collections
import importlib
import json
import sys
from typing import Any

# A claim's consistency (receipts/models.py's Claim), which the contract's Claim states in words.
CLAIM_RULES = (
    "Value error, a claim has a closedAt only once closed",
    "Value error, a claim closes on or after the day it opened",
    "Value error, only a replaced or refunded claim can end the warranty",
    "Value error, only a repaired claim with its closedAt extends the warranty",
    "Value error, each claim has its own claimId",
)
# The 400's message, or one of its details' (a prefix), by operation: each a rule the contract
# states in words.
RULES_NO_SCHEMA_STATES: dict[str, tuple[str, ...]] = {
    "GET /receipts": (
        "nextToken is invalid for this request",  # a page token is one the API issued
        "'from' must not be after 'to'",  # the range is ordered
    ),
    "GET /receipts/duplicates": ("nextToken is invalid for this request",),
    "POST /receipts/{receiptId}/duplicates/{otherReceiptId}": (
        "a receipt is not a duplicate of itself",  # the two ids differ
        "merged, the receipt would hold more than",  # the images of both: at most 20
    ),
    "POST /sync/pull": ("cursor is invalid for this request",),  # a cursor is one the API issued
    "POST /sync/full": ("cursor is invalid for this request",),
    "POST /user/export": ("'from' must not be after 'to'",),
    "POST /receipts": (
        "Decimal input should have no more than",  # a quantity's digits: 12, 4 after the point
        "Value error, an extended warranty ends on expiryDate or after months",  # exactly one
        *CLAIM_RULES,
    ),
    "POST /receipts/{receiptId}/claims": (*CLAIM_RULES, "a receipt holds at most 20 claims"),
    "PATCH /receipts/{receiptId}/claims/{claimId}": (
        *CLAIM_RULES,
        "Value error, a field is changed or removed, not both",
    ),
    "PUT /receipts/{receiptId}": (
        "receiptId in the body is not the receipt of the path",
        "server-owned fields differ from the stored receipt",  # echoed ones equal the stored ones
        "Value error, a refinement's numbers are confidences",  # so an echoed refinement, too
        "Value error, nested too deeply for a refinement",
        "a PUT never deletes a receipt",  # status deleted only as GET showed it
        "Decimal input should have no more than",
        "Value error, an extended warranty ends on expiryDate or after months",
        *CLAIM_RULES,
    ),
    "POST /receipts/{receiptId}/refine": (
        "nothing to refine",  # the request or the stored receipt holds text or an image
    ),
    "PUT /user/settings": ("Value error, not an IANA timezone this service knows",),
    "PUT /categories": ("Value error, categories must be unique, ignoring case",),
}
DROPPED: collections.Counter[str] = collections.Counter()
SCHEMA_VALID_REQUEST_REJECTED = "ST202"
SCHEMA_VIOLATING_REQUEST_ACCEPTED = "ST201"
DELETED_RESOURCE_STILL_AVAILABLE = "ST301"
CREATED_RESOURCE_NOT_FOUND = "ST302"
PUSH = "POST /sync/push"
SOFT_DELETE = "DELETE /receipts/{receiptId}"
CALLS: list[tuple[str, int]] = []  # ("METHOD /path", status) of every call of the run, in order
REGISTER_DEVICE = "POST /user/devices"
REMOVE_DEVICE = "DELETE /user/devices/{deviceId}"
# (platform, token, deviceId) of every successful registration of the run, in order.
REGISTRATIONS: list[tuple[str, str, str]] = []


def _body(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except (TypeError, ValueError):
        return None


def _said(body: Any) -> list[str]:
    """An error's message and its details' messages."""
    if not isinstance(body, dict):
        return []
    details = body.get("details")
    listed = details if isinstance(details, list) else []
    return [str(body.get("message")), *(str(item.get("message")) for item in listed if isinstance(item, dict))]


def _names_a_rule(label: str, body: Any) -> bool:
    rules = RULES_NO_SCHEMA_STATES.get(label, ())
    named = next((rule for said in _said(body) for rule in rules if said.startswith(rule)), None)
    if named is not None:
        DROPPED[f"{label}: {named}"] += 1
    return named is not None


def _rejects_each_invalid_item(case: Any, body: Any) -> bool:
    """A push answered item by item: the invalid part is inside the items (the batch itself is
    valid, or the answer would be a 400), and an item's answer is its own `rejected`."""
    if not isinstance(body, dict) or not isinstance(case.body, dict) or not isinstance(body.get("results"), list):
        return False
    results = [result for result in body["results"] if isinstance(result, dict)]
    refused = [result for result in results if (result.get("error") or {}).get("error") == "VALIDATION_ERROR"]
    each = len(results) == len(case.body.get("items") or ())
    answered = each and any(result.get("outcome") == "rejected" for result in refused)
    if answered:
        DROPPED[f"{PUSH}: an invalid item is its own rejected outcome"] += 1
    return answered


def _soft_deleted_or_restored(free: str, body: Any) -> bool:
    """The receipt is its tombstone, or a restore succeeded after the DELETE that `free` names."""
    if isinstance(body, dict) and body.get("status") == "deleted" and body.get("deletedAt"):
        DROPPED[f"{SOFT_DELETE}: a soft delete, read as its tombstone"] += 1
        return True
    deleted = [index for index, (call, status) in enumerate(CALLS) if call.lower() == free.lower() and status < 300]
    restore = f"POST {free.split(' ', 1)[-1]}/restore".lower()
    restored = bool(deleted) and any(
        call.lower() == restore and status < 300 for call, status in CALLS[deleted[-1] + 1 :]
    )
    if restored:
        DROPPED[f"{SOFT_DELETE}: a soft delete, restored since"] += 1
    return restored


def _replaced_by_its_token(device_id: str) -> bool:
    """Since the device's last registration, its token was registered under another deviceId:
    one token is one device, and the registry keeps only the newest id."""
    registered = [index for index, (_, _, known) in enumerate(REGISTRATIONS) if known == device_id.lower()]
    if not registered:
        return False
    platform, token, _ = REGISTRATIONS[registered[-1]]
    replaced = any(
        (other_platform, other_token) == (platform, token) and known != device_id.lower()
        for other_platform, other_token, known in REGISTRATIONS[registered[-1] + 1 :]
    )
    if replaced:
        DROPPED[f"{REMOVE_DEVICE}: its token registered since under another deviceId"] += 1
    return replaced


def after_call(context: Any, case: Any, response: Any) -> None:
    CALLS.append((f"{case.method.upper()} {case.formatted_path}", response.status_code))
    if case.operation.label == REGISTER_DEVICE and response.status_code < 300 and isinstance(case.body, dict):
        body = _body(response)
        if isinstance(body, dict) and isinstance(body.get("deviceId"), str):
            REGISTRATIONS.append(
                (str(case.body.get("platform")), str(case.body.get("token")), body["deviceId"].lower())
            )


def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False (drop it) only for the answers the module's docstring names."""
    code, label = getattr(failure, "code", None), case.operation.label
    if code == SCHEMA_VALID_REQUEST_REJECTED and response.status_code == 400:
        return not _names_a_rule(label, _body(response))
    if code == SCHEMA_VIOLATING_REQUEST_ACCEPTED and label == PUSH and response.status_code == 200:
        return not _rejects_each_invalid_item(case, _body(response))
    if code == DELETED_RESOURCE_STILL_AVAILABLE and getattr(failure, "operation", None) == SOFT_DELETE:
        return not _soft_deleted_or_restored(str(getattr(failure, "free", "")), _body(response))
    if code == CREATED_RESOURCE_NOT_FOUND and label == REMOVE_DEVICE and response.status_code == 404:
        return not _replaced_by_its_token(str((case.path_parameters or {}).get("deviceId", "")))
    return True


@atexit.register
def _report() -> None:
    """What was dropped, and why, after schemathesis's report (on stderr, which make fuzz shows)."""
    if DROPPED:
        lines = [f"  {count:>4}  {rule}" for rule, count in sorted(DROPPED.items())]
        sys.stderr.write("Answers to rules no schema states (filter_failure):\n" + "\n".join(lines) + "\n")


# Registered by name, as schemathesis's `@schemathesis.hook` would; imported lazily, so that the
# project's own checks of local/ need no schemathesis.
schemathesis = importlib.import_module("schemathesis")
schemathesis.hook(filter_failure)
schemathesis.hook(after_call)
