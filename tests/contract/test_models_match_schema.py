"""Each request model in src/ against its schema in api/openapi.yaml, field by field.

Both stay: API Gateway validates a body against the schema before a function runs, and the
function validates it again with its model (locally, and for what no schema can say). They must
agree on every field's name, type, required, limits (minLength, maxLength, minimum, maximum,
minItems, maxItems, uniqueItems, pattern), enum and nullability.

Nullability. A model field `optional(...)` (`X | None`, default None) may be left out or null; where API Gateway
validates the body first, an explicit null never reaches the model, and the schema (draft 4,
which has no `nullable`) refuses it. So nullability is compared only where the gateway does not
validate the body, the push items (POST /sync/push has the params-only validator), whose null
removes a field; everywhere else a nullable model field must simply be optional in the schema.

A constraint the model enforces in a validator instead of declaring it is listed in
VALIDATOR_ENFORCED, with probes that show the validator enforces exactly the schema's constraint.
A disagreement whose fix belongs in src/ is a strict xfail in CODE_SIDE_FIXES, with its reason.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.cfn_template import OPENAPI_PATH, PROJECT_ROOT, load_template, load_yaml
from receipt_vault.model_base import InputModel
from receipt_vault.validation import Model, ValidationError

OPENAPI = load_yaml(OPENAPI_PATH)
SCHEMAS: dict[str, Any] = OPENAPI["components"]["schemas"]
CONSTRAINTS = (
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
)

# Each request model and the schema that describes the same body. A schema name, or
# (method, path) for the query parameters of an operation.
SCHEMA_OF: dict[str, str | tuple[str, str]] = {
    "LineItem": "LineItem",
    "EmailOrigin": "EmailOrigin",
    "ExtendedWarranty": "ExtendedWarranty",
    "Claim": "Claim",
    "ClaimOpening": "ClaimOpening",
    "ClaimChange": "ClaimChange",
    "PossibleDuplicate": "PossibleDuplicate",
    "ReceiptCreate": "ReceiptCreate",
    "ReceiptUpdate": "ReceiptUpdate",
    "StatusChange": "StatusChange",
    "ReceiptListQuery": ("get", "/receipts"),
    "DuplicatePairQuery": ("get", "/receipts/duplicates"),
    "DuplicateResolution": "DuplicateResolution",
    "CategoriesUpdate": "CategoriesUpdate",
    "UploadUrlRequest": "UploadUrlRequest",
    "PullRequest": "SyncPullRequest",
    "FullRequest": "SyncFullRequest",
    "PushRequest": "SyncPushRequest",
    "PushItem": "SyncPushItem",
    "RefineRequest": "RefineRequest",
    "SettingsUpdate": "UserSettingsUpdate",
    "DeviceRegistration": "DeviceRegistration",
    "ExportRequest": "ExportRequest",
}
# InputModel subclasses that are no request body of their own.
NOT_A_BODY = {
    "ReceiptFields": "the fields ReceiptCreate, ReceiptUpdate and PushItem share",
    "Receipt": "the stored and returned receipt (test_contract.py compares its fields with the Receipt schema)",
}
# Bodies API Gateway does not validate: their model is the only check, null included.
UNVALIDATED_BY_THE_GATEWAY = {"SyncPushItem"}


def request_models() -> dict[str, type[Model]]:
    """Every InputModel subclass in src/, by class name: the functions' packages and the layers
    (app.py apart, which reads its function's environment when imported)."""
    found: dict[str, type[Model]] = {}
    for source in sorted((PROJECT_ROOT / "src").rglob("*.py")):
        if source.name == "app.py" or "InputModel" not in source.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(_module_name(source))
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, InputModel)
                and value is not InputModel
                and value.__module__ == module.__name__
            ):
                found[value.__name__] = value
    return found


def _module_name(source: Path) -> str:
    """src/<function>/<package>/x.py is <package>.x; src/layers/<layer>/<package>/x.py likewise."""
    parts = source.relative_to(PROJECT_ROOT / "src").with_suffix("").parts
    return ".".join(parts[2:] if parts[0] == "layers" else parts[1:])


MODELS = request_models()


# -- one shape for both sides -----------------------------------------------------------------


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """A schema with its $ref followed and its allOf parts merged."""
    while "$ref" in schema:
        *_, group, name = schema["$ref"].split("/")
        schema = document[group][name] if group == "$defs" else document["components"]["schemas"][name]
    if "allOf" in schema:
        merged = {key: value for key, value in schema.items() if key != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part, document)
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged["required"] = sorted({*merged.get("required", []), *part.get("required", [])})
            merged.update({key: value for key, value in part.items() if key not in ("properties", "required")})
        schema = merged
    return schema


def shape(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """What a schema accepts, in one form for OpenAPI's schemas and the models' JSON Schema:
    type, nullable, enum, the CONSTRAINTS, and recursively items, properties and required."""
    schema = _resolve(schema, document)
    nullable = bool(schema.get("nullable"))
    alternatives = schema.get("anyOf")
    if alternatives:  # a model's optional field: anyOf [X, null]
        others = [option for option in alternatives if option.get("type") != "null"]
        if len(others) == 1 and len(others) < len(alternatives):
            return {**shape(others[0], document), "nullable": True}
        raise AssertionError(f"anyOf beyond X | None: {schema}")
    enum = [schema["const"]] if "const" in schema else schema.get("enum")  # a one-value enum
    kind = schema.get("type") or _type_of_values(enum)
    result: dict[str, Any] = {"type": kind, "nullable": nullable or (enum is not None and None in enum)}
    if enum is not None:
        result["enum"] = sorted((value for value in enum if value is not None), key=lambda v: (type(v).__name__, v))
    result.update({name: schema[name] for name in CONSTRAINTS if name in schema})
    if kind == "array":
        result["items"] = shape(schema.get("items", {}), document)
    if kind == "object":
        result["properties"] = {
            name: shape(value, document) for name, value in sorted(schema.get("properties", {}).items())
        }
        result["required"] = sorted(schema.get("required", []))
        result["closed"] = schema.get("additionalProperties") is False
    return result


def _type_of_values(enum: list[Any] | None) -> str:
    kinds = {type(value).__name__ for value in enum or () if value is not None}
    return {"str": "string", "int": "integer", "bool": "boolean"}.get(kinds.pop(), "any") if len(kinds) == 1 else "any"


def model_shape(model: type[Model]) -> dict[str, Any]:
    document = model.model_json_schema()
    return shape(document, document)


def schema_shape(target: str | tuple[str, str]) -> dict[str, Any]:
    if isinstance(target, str):
        return shape(SCHEMAS[target], OPENAPI)
    method, path = target  # the query parameters, as an object
    parameters = [p for p in OPENAPI["paths"][path][method].get("parameters", []) if p["in"] == "query"]
    return {
        "type": "object",
        "nullable": False,
        "properties": {p["name"]: shape(p["schema"], OPENAPI) for p in sorted(parameters, key=lambda p: p["name"])},
        "required": sorted(p["name"] for p in parameters if p.get("required")),
        "closed": True,  # API Gateway passes unknown query parameters on; the model refuses them
    }


# -- constraints enforced by validators, each shown by probes ----------------------------------


def _accepts(model: type[Model], body: dict[str, Any]) -> bool:
    try:
        model.model_validate_json(json.dumps(body), strict=True)
    except ValidationError:
        return False
    return True


def _settings(offsets: list[int]) -> dict[str, Any]:
    return {
        "reminderDaysBefore": offsets,
        "weeklyDigestEnabled": False,
        "timezone": "UTC",
        "locale": "en",
        "serverVersion": 0,
    }


def _probe_reminder_offsets(model: type[Model], schema: dict[str, Any]) -> None:
    allowed = _resolve(schema["items"], OPENAPI)["enum"]
    assert all(_accepts(model, _settings([offset])) for offset in allowed)
    assert not any(_accepts(model, _settings([offset])) for offset in (2, 5, 31, 365, -1))
    assert not _accepts(model, _settings([allowed[0], allowed[0]]))  # uniqueItems


def _probe_instants(model: type[Model], schema: dict[str, Any]) -> None:
    pattern = re.compile(schema["pattern"])
    samples = [
        "2026-03-01T10:15:30.123Z",
        "2026-03-01T10:15:30Z",
        "2026-03-01t10:15:30z",
        "2026-03-01T10:15:30.123456789+05:30",
        "2026-03-01T23:59:59-08:00",
        "2026-03-01 10:15:30Z",
        "2026-03-01T10:15:30",
        "2026-03-01",
        "2026-03-01T10:15:30.1234567890Z",
        "2026-03-01T10:15:30+24:00",
        "1772360130",
    ]
    for sample in samples:
        assert bool(pattern.search(sample)) == _accepts(model, {"lastSyncTimestamp": sample}), sample


def _probe_batch_size(_: type[Model], schema: dict[str, Any]) -> None:
    """SyncService refuses a push of more than MAX_BATCH_SIZE items (400); the items themselves
    are validated one by one, by PushItem (compared with SyncPushItem below)."""
    sync_function = load_template()["Resources"]["SyncHandlerFunction"]["Properties"]
    assert int(sync_function["Environment"]["Variables"]["MAX_BATCH_SIZE"]) == schema["maxItems"]


def _probe_refinement(model: type[Model], schema: dict[str, Any]) -> None:
    """The echoed refinement must equal the stored one (else 400), so the model takes it as any
    object; the schema describes the stored one."""
    echoed = {"model": "m", "confidence": 0.9, "fieldConfidence": {"storeName": 0.8}, "needsReview": False}
    assert _accepts(model, {"serverVersion": 1, "refinement": {**echoed, "status": "refined", "problems": []}})
    assert set(echoed) < set(schema["properties"])


def _probe_status_never_null(model: type[Model], schema: dict[str, Any]) -> None:
    """A null removes a push item's field, but a receipt always has a status: the model's
    validator refuses an explicit null, which its declared shape (optional) cannot say."""
    receipt_id = "0b6f2a53-0d7e-4b53-9b3f-3f0c2a9f6a11"
    assert not _accepts(model, {"receiptId": receipt_id, "status": None})
    assert _accepts(model, {"receiptId": receipt_id}) and _accepts(model, {"receiptId": receipt_id, "status": "active"})
    assert not schema.get("nullable")


# (schema, field) -> (what the model's validator adds to its declared shape, the probe that shows it)
VALIDATOR_ENFORCED: dict[tuple[str, str], tuple[Callable[[dict[str, Any]], None], Callable[..., None]]] = {
    ("UserSettingsUpdate", "reminderDaysBefore"): (
        lambda field: field.update(uniqueItems=True, items={**field["items"], "enum": [0, 1, 3, 7, 14, 30, 60, 90]}),
        _probe_reminder_offsets,
    ),
    ("SyncPullRequest", "lastSyncTimestamp"): (
        lambda field: field.update(pattern=SCHEMAS["SyncPullRequest"]["properties"]["lastSyncTimestamp"]["pattern"]),
        _probe_instants,
    ),
    ("SyncPushRequest", "items"): (
        lambda field: field.update(maxItems=25, items=schema_shape("SyncPushItem")),
        _probe_batch_size,
    ),
    ("SyncPushItem", "status"): (
        lambda field: field.update(nullable=False),
        _probe_status_never_null,
    ),
    ("ReceiptUpdate", "refinement"): (
        lambda field: field.update(schema_shape("Refinement")),
        _probe_refinement,
    ),
}

# (schema, field) -> why the code, not the contract, should change. Strict: fixed code fails them.
CODE_SIDE_FIXES: dict[tuple[str, str], str] = {}


# -- the tests ---------------------------------------------------------------------------------


def _pairs() -> list[tuple[str, str | tuple[str, str]]]:
    return sorted(SCHEMA_OF.items())


def _label(target: str | tuple[str, str]) -> str:
    return target if isinstance(target, str) else f"{target[0].upper()} {target[1]} query"


def test_every_request_model_in_src_has_its_schema():
    assert set(MODELS) == set(SCHEMA_OF) | set(NOT_A_BODY)


def _nullability_compared(label: str) -> bool:
    return label in UNVALIDATED_BY_THE_GATEWAY


@pytest.mark.parametrize(("model_name", "target"), _pairs(), ids=[name for name, _ in _pairs()])
def test_the_same_fields_the_same_required_and_unknown_fields_refused(model_name, target):
    model, schema = model_shape(MODELS[model_name]), schema_shape(target)

    assert set(model["properties"]) == set(schema["properties"])
    assert model["required"] == schema["required"]
    assert model["closed"] and schema["closed"]  # unknown fields are a 400, on both sides


def _field_cases() -> list[Any]:
    cases = []
    for model_name, target in _pairs():
        for field in sorted(schema_shape(target)["properties"]):
            key = (_label(target), field)
            marks = [pytest.mark.xfail(strict=True, reason=CODE_SIDE_FIXES[key])] if key in CODE_SIDE_FIXES else []
            cases.append(pytest.param(model_name, target, field, id=f"{_label(target)}.{field}", marks=marks))
    return cases


@pytest.mark.parametrize(("model_name", "target", "field"), _field_cases())
def test_each_field_has_the_same_type_limits_enum_and_nullability(model_name, target, field):
    model_field = model_shape(MODELS[model_name])["properties"].get(field)
    schema_field = schema_shape(target)["properties"][field]
    assert model_field is not None, f"{model_name} has no field {field}"
    label = _label(target)
    enforced = VALIDATOR_ENFORCED.get((label, field))
    if enforced is not None:
        add_to_model, probe = enforced
        probe(MODELS[model_name], _resolved_property(target, field))
        add_to_model(model_field)
    if _nullability_compared(label):
        # A push item's field: null removes it. Within a field's value (a line item), what a
        # null means is what it means in the REST bodies, which share those schemas.
        assert model_field["nullable"] == schema_field["nullable"], "nullable"
    else:
        # A gateway-validated body: a nullable model field is one the model may go without.
        assert not (model_field["nullable"] and field in schema_shape(target)["required"])
    assert _without_nullable(model_field) == _without_nullable(schema_field)


def _resolved_property(target: str | tuple[str, str], field: str) -> dict[str, Any]:
    if isinstance(target, str):
        return _resolve(_resolve(SCHEMAS[target], OPENAPI)["properties"][field], OPENAPI)
    method, path = target
    parameter = next(p for p in OPENAPI["paths"][path][method]["parameters"] if p["name"] == field)
    return _resolve(parameter["schema"], OPENAPI)


def _without_nullable(field: dict[str, Any]) -> dict[str, Any]:
    result = {**field, "nullable": False}
    if "items" in result:
        result["items"] = _without_nullable(result["items"])
    if "properties" in result:
        result["properties"] = {name: _without_nullable(value) for name, value in result["properties"].items()}
    return result


def test_query_defaults_are_the_models():
    """A default the contract declares (a typed client fills it in) is the one the code applies."""
    model = MODELS["ReceiptListQuery"]
    for parameter in OPENAPI["paths"]["/receipts"]["get"]["parameters"]:
        if "default" in parameter["schema"]:
            field = next(f for name, f in model.model_fields.items() if (f.alias or name) == parameter["name"])
            assert field.default == parameter["schema"]["default"]
