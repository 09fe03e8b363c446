"""What resolving a pair writes, planned from both receipts as read (pure), and the record of
the decision that recognises a retry."""

from __future__ import annotations

import pytest

from receipt_crud.duplicate_review import merged_content, moved_images, plan_resolution
from receipt_vault.duplicates.decisions import decision_record, has_decided, merged_into
from receipt_vault.duplicates.fingerprints import exported
from receipt_vault.errors import BadRequestError
from receipt_vault.images import MAX_IMAGES_PER_RECEIPT

KEPT_ID, OTHER_ID = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"


def image(receipt_id: str, number: int) -> str:
    return f"users/u/receipts/{receipt_id}/original/00000000-0000-4000-8000-{number:012d}.jpg"


def thumbnail(receipt_id: str, number: int) -> str:
    return f"users/u/receipts/{receipt_id}/thumbnail/00000000-0000-4000-8000-{number:012d}.jpg"


def receipt(receipt_id: str, **fields):
    return {"receiptId": receipt_id, "status": "active", "serverVersion": 3, **fields}


def test_a_merge_fills_only_what_the_kept_receipt_lacks():
    kept = receipt(KEPT_ID, storeName="Lidl", notes="mine", userEditedFields=["storeName"])
    other = receipt(
        OTHER_ID,
        storeName="LIDL HELLAS",
        notes="theirs",
        category="Groceries",
        warrantyMonths=12,
        warrantyExpiryDate="2027-01-01",  # derived on the other: not taken
        userEditedFields=["category"],
    )

    content = merged_content(kept, other)

    assert content == {
        "storeName": "Lidl",
        "notes": "mine",
        "category": "Groceries",
        "warrantyMonths": 12,
        "userEditedFields": ["category", "storeName"],
        "status": "active",
    }


def test_a_warranty_end_the_user_set_on_the_other_is_taken_as_theirs():
    other = receipt(OTHER_ID, warrantyExpiryDate="2028-05-31", userEditedFields=["warrantyExpiryDate"])

    content = merged_content(receipt(KEPT_ID), other)

    assert content["warrantyExpiryDate"] == "2028-05-31" and content["userEditedFields"] == ["warrantyExpiryDate"]


def test_the_images_move_with_their_thumbnails_and_digests_once():
    shared = image(KEPT_ID, 1)
    kept = receipt(KEPT_ID, imageKeys=[shared], thumbnailKeys=[thumbnail(KEPT_ID, 1)])
    other = receipt(
        OTHER_ID,
        imageKeys=[shared, image(OTHER_ID, 2), image(OTHER_ID, 3)],
        thumbnailKeys=[thumbnail(OTHER_ID, 2)],  # image 3 has no thumbnail yet
        imageFingerprints=[{"key": image(OTHER_ID, 2), "sha256": "ab", "dhash": "cd"}],
    )

    moved = moved_images(kept, other)

    assert moved == {
        "imageKeys": [image(OTHER_ID, 2), image(OTHER_ID, 3)],
        "thumbnailKeys": [thumbnail(OTHER_ID, 2)],
        "imageFingerprints": [{"key": image(OTHER_ID, 2), "sha256": "ab", "dhash": "cd"}],
    }


def test_a_merge_past_the_image_cap_is_refused_and_at_the_cap_allowed():
    half = MAX_IMAGES_PER_RECEIPT // 2
    kept = receipt(KEPT_ID, imageKeys=[image(KEPT_ID, n) for n in range(half)])
    at_cap = receipt(OTHER_ID, imageKeys=[image(OTHER_ID, n) for n in range(MAX_IMAGES_PER_RECEIPT - half)])
    over = receipt(OTHER_ID, imageKeys=[image(OTHER_ID, n) for n in range(MAX_IMAGES_PER_RECEIPT - half + 1)])

    assert len(moved_images(kept, at_cap)["imageKeys"]) == MAX_IMAGES_PER_RECEIPT - half
    with pytest.raises(BadRequestError):
        moved_images(kept, over)


@pytest.mark.parametrize(
    ("action", "kept_record", "other_record", "deleted"),
    [
        ("keep_both", "keep_both", "keep_both", False),
        ("discard_other", "discard_other", "discarded-for", True),
        ("merge", "merge", "merged-into", True),
    ],
)
def test_each_side_records_its_part_of_the_decision(action, kept_record, other_record, deleted):
    plan = plan_resolution(receipt(KEPT_ID), receipt(OTHER_ID), action)

    assert plan.kept.resolution == decision_record(OTHER_ID, kept_record, 3, 3)
    assert plan.other.resolution == decision_record(KEPT_ID, other_record, 3, 3)
    assert plan.other.soft_delete is deleted and plan.kept.soft_delete is False
    assert (plan.kept.content is not None) is (action == "merge")


def test_a_retry_is_recognised_by_the_decision_and_its_versions_and_a_merge_names_the_kept_receipt():
    merged_away = receipt(OTHER_ID, duplicateResolutions={decision_record(KEPT_ID, "merged-into", 2, 5)})

    assert has_decided(merged_away, KEPT_ID, "merged-into", 2, 5)
    assert not has_decided(merged_away, KEPT_ID, "merged-into", 5, 2)  # other versions: another request
    assert not has_decided(merged_away, KEPT_ID, "keep_both", 2, 5)
    assert merged_into(merged_away) == KEPT_ID
    assert merged_into(receipt(OTHER_ID, duplicateResolutions={decision_record(KEPT_ID, "keep_both", 1, 1)})) is None


def test_the_export_view_holds_only_what_detection_kept():
    assert exported(receipt(KEPT_ID)) is None
    view = exported(receipt(KEPT_ID, duplicateFingerprints={"contentKey": "k"}, duplicateResolutions={"b merge"}))
    assert view == {"receiptId": KEPT_ID, "fingerprints": {"contentKey": "k"}, "reviewDecisions": ["b merge"]}
