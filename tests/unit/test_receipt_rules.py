"""Receipt rules are pure: no boto3, no moto."""

from __future__ import annotations

import datetime as dt

import pytest

from receipt_vault import keys
from receipt_vault.receipts import layout, rules
from receipt_vault.receipts.models import ReceiptCreate, ReceiptUpdate

TODAY = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 22, 10, 15, 30, 123000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2026-03-15", 24, "2028-03-15"),
        ("2026-11-30", 3, "2027-02-28"),
        ("2026-12-01", 1, "2027-01-01"),
        ("2028-02-29", 12, "2029-02-28"),  # bought on a leap day: the year after has none
        ("2028-02-29", 48, "2032-02-29"),
        ("2027-02-28", 12, "2028-02-28"),  # not moved to the leap day
        ("2028-03-31", -1, "2028-02-29"),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(start, months, expected):
    assert rules.add_months(dt.date.fromisoformat(start), months).isoformat() == expected


def test_expiry_is_derived_from_purchase_date_and_months():
    content = {"purchaseDate": "2026-01-10", "warrantyMonths": 12, "warrantyExpiryDate": "2030-01-01"}

    assert rules.warranty_expiry_date(content) == "2027-01-10"


def test_a_user_edited_expiry_wins_over_the_derived_one():
    content = {
        "purchaseDate": "2026-01-10",
        "warrantyMonths": 12,
        "warrantyExpiryDate": "2030-01-01",
        "userEditedFields": ["warrantyExpiryDate"],
    }

    assert rules.warranty_expiry_date(content) == "2030-01-01"


def test_a_date_the_client_did_not_mark_as_its_own_is_derived_and_follows_its_inputs():
    assert rules.warranty_expiry_date({"warrantyExpiryDate": "2028-05-05"}) is None  # nothing to derive from
    assert rules.warranty_expiry_date({"purchaseDate": "2026-01-10", "warrantyExpiryDate": "2028-05-05"}) is None
    assert rules.warranty_expiry_date({"purchaseDate": "2026-01-10", "warrantyMonths": 0}) is None


def test_a_user_set_date_stands_without_inputs_and_its_removal_too():
    edited = {"userEditedFields": ["warrantyExpiryDate"]}

    assert rules.warranty_expiry_date({**edited, "warrantyExpiryDate": "2028-05-05"}) == "2028-05-05"
    assert rules.warranty_expiry_date({**edited, "purchaseDate": "2026-01-10", "warrantyMonths": 12}) is None


def test_a_warranty_is_live_through_its_expiry_day():
    assert rules.is_warranty_live("2026-11-22", TODAY)
    assert not rules.is_warranty_live("2026-11-21", TODAY)
    assert not rules.is_warranty_live(None, TODAY)


def test_a_new_active_receipt_with_a_live_warranty_is_placed_in_every_index():
    request = ReceiptCreate(
        storeName="Media  Markt", category="Home#Garden", purchaseDate="2026-10-01", warrantyMonths=24
    )

    item = layout.new_receipt_item("u1", "r1", request, NOW)

    assert item["PK"] == "USER#u1" and item["SK"] == "RECEIPT#r1"
    assert item["byDateSK"] == "2026-10-01#r1"
    assert item["byCategorySK"] == "CAT#home%23garden#2026-10-01#r1"
    assert item["byStoreSK"] == "STORE#media markt#2026-10-01#r1"
    assert item["statusPK"] == "USER#u1#STATUS#active"
    assert item["warrantyPK"] == "USER#u1#ACTIVE"
    assert item["warrantySK"] == item["warrantyExpiryKey"] == "2028-10-01#r1"
    assert item["byUpdatedSK"] == "2026-11-22T10:15:30.123Z#r1"
    assert item["serverVersion"] == 1


def test_an_archived_receipt_keeps_only_the_warranty_shadow_key():
    request = ReceiptCreate(purchaseDate="2026-10-01", warrantyMonths=24, status="archived")

    item = layout.new_receipt_item("u1", "r1", request, NOW)

    assert "warrantyPK" not in item and "warrantySK" not in item
    assert item["warrantyExpiryKey"] == "2028-10-01#r1"


def test_an_undated_receipt_sorts_as_the_newest():
    item = layout.new_receipt_item("u1", "r1", ReceiptCreate(), NOW)

    assert item["byDateSK"] == f"{keys.UNDATED_SORT_DATE}#r1"
    assert "byCategorySK" not in item and "byStoreSK" not in item


def test_a_full_update_removes_fields_and_keys_it_no_longer_has():
    changes = layout.content_changes(
        "u1",
        "r1",
        ReceiptUpdate(serverVersion=3, purchaseDate="2020-01-01", warrantyMonths=12).content(),
        "active",
        NOW,
    )

    assert {"storeName", "category", "byCategorySK", "byStoreSK", "warrantyPK", "warrantySK"} <= set(changes.remove)
    assert "warrantyExpiryKey" in changes.remove  # expired in 2021
    assert changes.set["warrantyExpiryDate"] == "2021-01-01"  # the data stays; only the keys go
    assert "serverVersion" not in changes.set and "serverVersion" not in changes.remove


def test_create_fingerprint_ignores_nothing_the_client_sent():
    first = ReceiptCreate(receiptId="0b7e7f5a-93b5-4a4c-9c43-0ac2c2d0d0a1", totalAmount="1.00")
    same = ReceiptCreate(receiptId="0b7e7f5a-93b5-4a4c-9c43-0ac2c2d0d0a1", totalAmount="1.00")
    other = ReceiptCreate(receiptId="0b7e7f5a-93b5-4a4c-9c43-0ac2c2d0d0a1", totalAmount="1.01")

    assert rules.create_fingerprint(first) == rules.create_fingerprint(same)
    assert rules.create_fingerprint(first) != rules.create_fingerprint(other)


def test_to_api_hides_keys_and_internal_attributes():
    item = layout.new_receipt_item("u1", "r1", ReceiptCreate(purchaseDate="2026-10-01"), NOW)

    public = rules.to_api(item)

    assert not {"PK", "SK", "byDateSK", "statusPK", "createFingerprint", "byUpdatedSK"} & public.keys()
    assert public["receiptId"] == "r1"


# -- the warranty in force ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"warrantyExpiryDate": "2027-01-01"}, ("2027-01-01", "manufacturer")),
        (  # the later extended cover holds
            {"warrantyExpiryDate": "2027-01-01", "extendedWarranty": {"provider": "X", "expiryDate": "2028-01-01"}},
            ("2028-01-01", "extended"),
        ),
        (  # an extended cover ending first changes nothing
            {"warrantyExpiryDate": "2027-01-01", "extendedWarranty": {"provider": "X", "expiryDate": "2026-06-01"}},
            ("2027-01-01", "manufacturer"),
        ),
        (  # months after the purchase, clamped to the month's end like warrantyMonths
            {"purchaseDate": "2024-02-29", "extendedWarranty": {"provider": "X", "months": 36}},
            ("2027-02-28", "extended"),
        ),
        ({"extendedWarranty": {"provider": "X", "months": 36}}, (None, None)),  # no purchase date: no end
        ({"warrantyExpiryDate": "2027-01-01", "warrantyStatus": "void"}, (None, None)),
        (
            {
                "warrantyExpiryDate": "2027-01-01",
                "warrantyStatus": "expired",
                "extendedWarranty": {"provider": "X", "months": 99},
            },
            (None, None),
        ),
        ({"warrantyExpiryDate": "2027-01-01", "warrantyStatus": "active"}, ("2027-01-01", "manufacturer")),
        ({}, (None, None)),
    ],
)
def test_the_warranty_in_force_is_the_later_cover_unless_the_user_ended_it(content, expected):
    assert rules.effective_warranty(content) == expected


def test_the_indexes_follow_the_cover_in_force_and_a_void_warranty_leaves_them():
    today = dt.date(2026, 12, 1)
    extended = {"warrantyExpiryDate": "2026-12-31", "extendedWarranty": {"provider": "X", "expiryDate": "2029-03-01"}}

    placement = layout.content_index_placement("r1", extended, today)
    assert placement.set["warrantyJobKey"] == keys.expiry_job_pk("2029-03-01")
    voided = layout.content_index_placement("r1", {**extended, "warrantyStatus": "void"}, today)
    assert "warrantyJobKey" not in voided.set and "warrantyJobKey" in voided.remove


@pytest.mark.parametrize(
    "cover",
    [{"provider": "X"}, {"provider": "X", "expiryDate": "2028-01-01", "months": 12}, {"provider": "X", "months": 0}],
)
def test_an_extended_cover_ends_one_way_exactly(cover):
    with pytest.raises(ValueError, match="extended"):
        ReceiptCreate(extendedWarranty=cover)


def test_an_active_warranty_status_is_stored_as_none_so_both_spellings_are_one_write():
    from receipt_vault.receipts.content import canonical_content, content_hash

    assert "warrantyStatus" not in canonical_content({"storeName": "X", "warrantyStatus": "active"})
    assert content_hash(canonical_content({"storeName": "X", "warrantyStatus": "active"})) == content_hash(
        canonical_content({"storeName": "X"})
    )
