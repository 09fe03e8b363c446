"""Key builders and tamper-evident page tokens."""

from __future__ import annotations

import pytest

from receipt_vault import keys
from receipt_vault.errors import BadRequestError
from receipt_vault.pagination import PageTokenCodec

codec = PageTokenCodec(lambda: b"signing-key")
LAST_KEY = {"PK": "USER#u1", "SK": "RECEIPT#r9", "byDateSK": "2026-01-01#r9"}


def test_text_keys_ignore_case_and_spacing_and_escape_separators():
    assert keys.normalize_text_key("  Media   MARKT ") == "media markt"
    assert keys.category_prefix("Home#Garden") == "CAT#home%23garden#"
    assert keys.category_prefix("100%") == "CAT#100%25#"


def test_a_page_token_round_trips_for_its_user_and_filters():
    token = codec.encode(LAST_KEY, "u1", {"category": "x"})

    assert codec.decode(token, "u1", {"category": "x"}) == LAST_KEY


@pytest.mark.parametrize(
    ("user", "scope"),
    [("u2", {"category": "x"}), ("u1", {"category": "y"}), ("u1", {})],
)
def test_a_page_token_is_refused_for_another_user_or_other_filters(user, scope):
    token = codec.encode(LAST_KEY, "u1", {"category": "x"})

    with pytest.raises(BadRequestError):
        codec.decode(token, user, scope)


def test_a_page_token_signed_with_another_key_is_refused():
    token = PageTokenCodec(lambda: b"other-key").encode(LAST_KEY, "u1", {})

    with pytest.raises(BadRequestError):
        codec.decode(token, "u1", {})


def test_an_edited_payload_is_refused_even_with_a_valid_looking_signature():
    _payload, signature = codec.encode(LAST_KEY, "u1", {}).split(".")
    forged = codec.encode({**LAST_KEY, "PK": "USER#victim"}, "u1", {}).split(".")[0]

    with pytest.raises(BadRequestError):
        codec.decode(f"{forged}.{signature}", "u1", {})


@pytest.mark.parametrize(
    "token",
    [
        "='\ud8cb\udcd7-.i\udb6c\udd03",  # what the API fuzzer sent: lone surrogates around a dot
        "abc.déf",
        "a.b.c",
        ".",
        "abc. def",
    ],
)
def test_a_token_that_is_not_two_base64url_parts_is_a_400_never_a_crash(token):
    with pytest.raises(BadRequestError):
        codec.decode(token, "u1", {})
