"""receipt_vault.validation, the models' checks: what a hostile or careless client sends, and what
a stored record or a model's answer holds, each read the way API Gateway's validation reads a
body, and answered with every problem's path and never the input."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

from receipt_vault.receipts.models import (
    EmailOrigin,
    LineItem,
    ReceiptCreate,
    ReceiptListQuery,
    ReceiptUpdate,
    StatusChange,
)
from receipt_vault.validation import ValidationError
from sync_handler.models import PushItem

RECEIPT_ID = "3f2a9c1e-8b7d-4e6f-a5b4-c3d2e1f0a9b8"


def _problems(call) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        call()
    return {".".join(str(part) for part in issue["loc"]): issue["type"] for issue in raised.value.errors()}


def _json(model, body) -> object:
    return model.model_validate_json(json.dumps(body), strict=True)


# -- strict, as API Gateway reads a body ----------------------------------------------------------


@pytest.mark.parametrize("version", ["3", True, 3.0, None])
def test_a_body_holds_numbers_as_json_numbers_of_their_type(version):
    assert "serverVersion" in _problems(lambda: _json(StatusChange, {"status": "active", "serverVersion": version}))


def test_an_integer_is_a_number_where_a_number_goes():
    flag = {"receiptId": RECEIPT_ID, "reasons": ["same-image"], "score": 1}
    update = _json(ReceiptUpdate, {"serverVersion": 1, "possibleDuplicates": [flag]})

    assert update.possibleDuplicates[0].score == 1.0 and isinstance(update.possibleDuplicates[0].score, float)


def test_a_query_string_is_read_as_the_integer_it_spells_in_ascii_digits():
    assert ReceiptListQuery.model_validate({"limit": "7"}).limit == 7
    assert ReceiptListQuery.model_validate({"limit": "100"}).limit == 100
    spellings = ("1e3", "7.5", "7.0", " 7 ", "+7", "1_0", "\u0667", "\uff17", "seven", "", "0x10", "9" * 5000)
    for spelled in spellings:
        assert "limit" in _problems(lambda spelled=spelled: ReceiptListQuery.model_validate({"limit": spelled}))


def test_a_stored_decimal_is_read_as_the_integer_it_holds():
    assert StatusChange.model_validate({"status": "active", "serverVersion": Decimal("4")}).serverVersion == 4
    assert "serverVersion" in _problems(
        lambda: StatusChange.model_validate({"status": "active", "serverVersion": Decimal("4.5")})
    )


# -- text -------------------------------------------------------------------------------------


def test_lengths_count_characters_not_bytes():
    assert _json(ReceiptCreate, {"storeName": "é" * 171}).storeName == "é" * 171  # 342 bytes
    assert _json(ReceiptCreate, {"storeName": "é" * 200}).storeName == "é" * 200
    assert _problems(lambda: _json(ReceiptCreate, {"storeName": "é" * 201})) == {"storeName": "string_too_long"}


@pytest.mark.parametrize("date", ["2024-02-01\n", "2024-02-01 ", "2023-02-29", "2024-2-01", "２０２４-02-01"])
def test_a_pattern_holds_for_the_whole_text_a_trailing_newline_included(date):
    assert "purchaseDate" in _problems(lambda: _json(ReceiptCreate, {"purchaseDate": date}))


def test_a_trimmed_field_is_checked_as_sent_then_trimmed():
    assert _json(ReceiptCreate, {"storeName": "\u3000 Corner Shop \xa0"}).storeName == "Corner Shop"
    assert "storeName" in _problems(lambda: _json(ReceiptCreate, {"storeName": " \u3000 "}))


def test_a_lone_surrogate_is_refused_wherever_it_is():
    assert "notes" in _problems(lambda: ReceiptCreate.model_validate({"notes": "a\ud800b"}, strict=True))
    assert "sender" in _problems(
        lambda: EmailOrigin.model_validate(
            {"sender": "\udc00", "receivedAt": "t", "spf": "pass", "dkim": "pass", "dmarc": "pass"}
        )
    )
    body = '{"serverVersion": 1, "refinement": {"model": "\\ud800"}}'  # a field any object fits
    assert _problems(lambda: ReceiptUpdate.model_validate_json(body)) == {"": "json_invalid"}
    paired = ReceiptCreate.model_validate_json('{"notes": "\\ud83d\\ude00"}')  # a pair is one character
    assert paired.notes == "\U0001f600"


# -- JSON that API Gateway's parser refuses ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"serverVersion": 1, "totalAmount": NaN}',
        '{"serverVersion": Infinity}',
        '{"serverVersion": -Infinity}',
        '{"serverVersion": 1,}',
        "[" * 100_000 + "]" * 100_000,
        '{"serverVersion": ' + "9" * 5000 + "}",
        '{"notes": "a\x01b"}',
    ],
    ids=["nan", "infinity", "minus-infinity", "trailing-comma", "deep", "huge-integer", "raw-control"],
)
def test_what_is_no_json_is_json_invalid_and_never_a_crash(body):
    assert _problems(lambda: ReceiptUpdate.model_validate_json(body)) == {"": "json_invalid"}


def test_a_body_that_is_no_object_is_one_problem_for_the_body():
    for body in ("[]", '"receipt"', "null", "3"):
        assert _problems(lambda body=body: ReceiptCreate.model_validate_json(body)) == {"": "model_type"}


# -- decimals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "accepted"),
    [
        (1.5, True),
        (2, True),
        (Decimal("1.50000"), True),  # trailing zeros are no places
        (1.23456, False),  # five places
        (12345678.1, False),  # nine whole digits: at most 12 - 4
        (1_000_001, False),  # over the limit
        (-0.5, False),
        ("2", False),  # a number, never a string
        (True, False),
    ],
)
def test_a_quantity_is_a_decimal_within_its_digits_and_bounds(quantity, accepted):
    line = {"description": "Milk", "quantity": quantity}
    if accepted:
        assert LineItem.model_validate(line, strict=True).quantity == Decimal(str(quantity))
    else:
        assert "quantity" in _problems(lambda: LineItem.model_validate(line, strict=True))


# -- problems: every one, by path, without the input ------------------------------------------------


def test_every_problem_is_named_by_its_path_in_one_answer():
    body = {
        "items": [{"description": "ok"}, {"description": "", "quantity": "2"}],
        "tags": ["fine", "\u202eevil"],
        "extendedWarranty": {"provider": "Acme"},
        "claims": [{"claimId": RECEIPT_ID}],
        "storeNmae": "typo",
        "serverVersion": 1,
    }
    assert _problems(lambda: _json(ReceiptUpdate, body)) == {
        "items.1.description": "string_too_short",
        "items.1.quantity": "value_error",
        "tags": "value_error",
        "extendedWarranty": "value_error",  # neither an end date nor months: the model's own rule
        "claims.0.openedAt": "missing",
        "storeNmae": "extra_forbidden",
    }


def test_an_error_names_a_key_only_when_it_is_shaped_like_a_field():
    body = {"storeNmae": 1, "john.doe@example.com": 1, "\ud800": 1, "extendedWarranty": {"provider": "A", "a b": None}}
    with pytest.raises(ValidationError) as raised:
        ReceiptCreate.model_validate(body, strict=True)
    issues = raised.value.errors()
    assert {".".join(map(str, issue["loc"])) for issue in issues} == {
        "storeNmae",
        "(undeclared field)",
        "extendedWarranty",
    }
    assert all("a b" not in issue["msg"] and "john" not in issue["msg"] for issue in issues)


def test_a_message_never_echoes_the_input():
    secret = "4111 1111 1111 1111 and my address"
    with pytest.raises(ValidationError) as raised:
        _json(ReceiptCreate, {"storeName": secret + "\n", "currency": secret, "status": secret, "paymentMethod": 5})
    assert all(secret not in issue["msg"] for issue in raised.value.errors())
    assert raised.value.error_count() == 4


# -- the model's values ---------------------------------------------------------------------------


def test_a_null_removes_a_push_items_field_but_never_its_status():
    item = _json(PushItem, {"receiptId": RECEIPT_ID, "notes": None, "storeName": "Shop"})

    assert item.model_fields_set == {"receiptId", "notes", "storeName"}
    assert item.changes() == {"notes": None, "storeName": "Shop"}
    assert "status" in _problems(lambda: _json(PushItem, {"receiptId": RECEIPT_ID, "status": None}))


def test_dumps_copies_and_equality_follow_the_fields():
    receipt = _json(ReceiptCreate, {"items": [{"description": " Milk "}], "tags": ["a", "a"], "totalAmount": None})

    assert receipt.model_dump(exclude_none=True) == {
        "items": [{"description": "Milk", "quantity": Decimal(1)}],
        "tags": ["a"],
        "status": "active",
    }
    assert receipt.content() == {"items": [{"description": "Milk", "quantity": Decimal(1)}], "tags": ["a"]}
    copied = receipt.model_copy(update={"receiptId": RECEIPT_ID})
    assert copied.receiptId == RECEIPT_ID and "receiptId" in copied.model_fields_set and receipt.receiptId is None
    assert copied != receipt and copied.model_copy(update={"receiptId": None}) == receipt
    query = ReceiptListQuery.model_validate({"from": "2025-01-01", "limit": "5"})
    assert query.from_ == "2025-01-01" and query.filters() == {"from": "2025-01-01"}
    assert "from_" in _problems(lambda: ReceiptListQuery.model_validate({"from_": "2025-01-01"}))


def test_a_record_drops_what_it_does_not_declare():
    from ocr_refine.refinement import Extraction

    answer = Extraction.model_validate({"confidence": "0.9", "merchant": "Shop", "mood": "happy", "total": "12,5"})
    assert answer.model_dump(exclude_none=True) == {
        "merchant": "Shop",
        "total": "12.50",
        "confidence": 0.9,
        "items": [],
        "fieldConfidence": {},
    }


def test_no_function_imports_pydantic():
    """What the validation replaced: its import alone cost every cold start about 0.4 of the
    baseline (bench/cold_start.py)."""
    modules = [
        "receipt_vault.receipts.models",
        "receipt_vault.api",
        "sync_handler.models",
        "receipt_crud.models",
        "user_settings.models",
        "presigned_url_generator.models",
        "category_handler.models",
        "export_request.models",
        "ocr_refine.models",
        "ocr_refine.refinement",
    ]
    probe = f"import sys\nfor name in {modules!r}: __import__(name)\nprint('pydantic' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)  # noqa: S603 (this interpreter, a fixed script)
    assert done.stdout.strip() == "False"
