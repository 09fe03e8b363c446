"""Properties of the field-level merge, over generated server receipts and device pushes."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from receipt_vault.receipts.merge import client_content, merge
from receipt_vault.receipts.models import (
    CLIENT_WRITABLE_FIELDS,
    EXTRACTABLE_FIELDS,
    SERVER_OWNED_FIELDS,
    USER_OWNED_FIELDS,
)

TEXT = st.text(alphabet="abcXYZ 12", min_size=1, max_size=8)
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "storeName": TEXT,
    "purchaseDate": st.sampled_from(["2026-01-01", "2026-03-15", "2025-12-31"]),
    "totalAmount": st.sampled_from(["1.00", "19.99", "250.00"]),
    "currency": st.sampled_from(["EUR", "USD", "GBP"]),
    "taxAmount": st.sampled_from(["0.19", "4.00"]),
    "items": st.lists(st.fixed_dictionaries({"description": TEXT}), max_size=2),
    "warrantyMonths": st.integers(0, 36),
    "warrantyExpiryDate": st.sampled_from(["2027-01-01", "2028-06-30"]),
    "paymentMethod": st.sampled_from(["card", "cash"]),
    "notes": TEXT,
    "tags": st.lists(TEXT, max_size=3, unique=True),
    "category": st.sampled_from(["Groceries", "Electronics", "Kids"]),
    "status": st.sampled_from(["active", "returned", "archived"]),
    "ocrRawText": TEXT,
}
EDITABLE = sorted(VALUES)


@st.composite
def server_receipts(draw: st.DrawFn) -> dict[str, Any]:
    present = draw(st.lists(st.sampled_from(EDITABLE), unique=True))
    item = {name: draw(VALUES[name]) for name in present}
    item.setdefault("status", "active")
    edited = draw(st.lists(st.sampled_from(EDITABLE), unique=True, max_size=4))
    if edited:
        item["userEditedFields"] = sorted(edited)
    return {
        **item,
        "receiptId": "r1",
        "serverVersion": draw(st.integers(1, 9)),
        "createdAt": "2026-01-01T00:00:00.000Z",
        "imageKeys": ["users/u/receipts/r1/original/a.jpg"],
        "thumbnailKeys": ["users/u/receipts/r1/thumbnail/a.jpg"],
        "refinement": {"model": "haiku", "confidence": 0.9},
    }


@st.composite
def pushes(draw: st.DrawFn) -> dict[str, Any]:
    """Changed fields (None removes one, except status), and the fields the user edited."""
    changed = draw(st.lists(st.sampled_from(EDITABLE), unique=True, min_size=1))
    changes = {
        name: (None if name != "status" and draw(st.booleans()) and draw(st.booleans()) else draw(VALUES[name]))
        for name in changed
    }
    edited = draw(st.lists(st.sampled_from(EDITABLE), unique=True, max_size=5))
    if edited:
        changes["userEditedFields"] = edited
    return changes


@st.composite
def merge_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], int | None]:
    server = draw(server_receipts())
    base = draw(st.sampled_from([server["serverVersion"], server["serverVersion"] - 1, None]))
    return server, draw(pushes()), base


def stored_after(server: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    """The item a write of `content` leaves: server-owned fields kept, version moved on."""
    kept = {name: value for name, value in server.items() if name not in CLIENT_WRITABLE_FIELDS}
    return {**kept, **content, "serverVersion": server["serverVersion"] + 1}


@given(merge_cases())
def test_a_user_edited_field_or_a_user_owned_field_the_device_changed_is_never_lost(case):
    server, changes, base = case
    merged = merge(server, changes, base)

    for name, value in changes.items():
        user_edited = name in EXTRACTABLE_FIELDS and name in (changes.get("userEditedFields") or ())
        if name in USER_OWNED_FIELDS or user_edited:
            assert merged.get(name) == value, name
    assert set(changes.get("userEditedFields") or ()) <= set(merged.get("userEditedFields", ()))


@given(merge_cases())
def test_a_server_owned_field_is_never_overwritten_by_a_device(case):
    server, changes, base = case
    merged = merge(server, changes, base)

    assert not set(merged) & set(SERVER_OWNED_FIELDS)
    after = stored_after(server, merged)
    for name in SERVER_OWNED_FIELDS:
        if name != "serverVersion" and name in server:
            assert after[name] == server[name]


@given(merge_cases())
def test_replaying_the_same_push_changes_nothing_more(case):
    server, changes, base = case
    once = merge(server, changes, base)

    twice = merge(stored_after(server, once), changes, base)

    assert twice == once


@given(merge_cases(), st.randoms(use_true_random=False))
@settings(max_examples=50)
def test_merging_is_deterministic_whatever_the_order_of_the_push(case, rng: random.Random):
    server, changes, base = case
    shuffled = list(changes.items())
    rng.shuffle(shuffled)

    assert merge(server, dict(shuffled), base) == merge(server, changes, base)
    assert merge(dict(server), dict(changes), base) == merge(server, changes, base)


@given(merge_cases())
def test_the_merge_writes_only_client_writable_fields_and_keeps_a_status(case):
    server, changes, base = case
    merged = merge(server, changes, base)

    assert set(merged) <= set(CLIENT_WRITABLE_FIELDS)
    assert merged["status"] in ("active", "returned", "archived")


@given(server_receipts(), pushes())
def test_on_the_current_version_every_change_applies(server, changes):
    merged = merge(server, changes, server["serverVersion"])

    for name, value in changes.items():
        if name != "userEditedFields":
            assert merged.get(name) == value, name


@given(server_receipts(), pushes())
def test_on_a_stale_version_the_server_keeps_its_refined_values(server, changes):
    merged = merge(server, changes, server["serverVersion"] - 1)
    edited = set(changes.get("userEditedFields") or ())

    for name in EXTRACTABLE_FIELDS:
        if name in changes and name not in edited and name in client_content(server):
            assert merged.get(name) == server[name], name


@given(server_receipts(), pushes())
def test_on_a_stale_version_a_field_the_user_removed_stays_removed_unless_the_device_edited_it(server, changes):
    removed = [name for name in EXTRACTABLE_FIELDS if name in changes and name not in server]
    server = {**server, "userEditedFields": sorted({*server.get("userEditedFields", ()), *removed})}
    merged = merge(server, changes, server["serverVersion"] - 1)
    edited = set(changes.get("userEditedFields") or ())

    for name in removed:
        if name not in edited:
            assert name not in merged, name


@given(server_receipts(), pushes())
def test_on_a_stale_version_a_field_that_had_a_value_and_lost_it_stays_removed(server, changes):
    removed = [name for name in EXTRACTABLE_FIELDS if name in changes and name not in server]
    server = {**server, "filledFields": set(removed)}  # they had a value once, removed since
    merged = merge(server, changes, server["serverVersion"] - 1)
    edited = set(changes.get("userEditedFields") or ())

    for name in removed:
        if name not in edited:
            assert name not in merged, name
