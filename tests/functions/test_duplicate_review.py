"""The review of possible duplicates through receipt-crud: GET /receipts/duplicates lists the
pairs, and POST /receipts/{id}/duplicates/{otherId} resolves one, all or nothing, on the
versions reviewed, once however often it is retried."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from receipt_crud.models import DuplicateResolution
from receipt_vault.clock import utc_now
from receipt_vault.errors import ApiError, VersionConflictError
from tests.conftest import IMAGES_BUCKET, ApiClient, DynamoCalls, assert_error_shape, load_function
from tests.functions import test_export as exports
from tests.functions.test_duplicates import create, flagged_ids, get, photo, put
from tests.functions.test_thumbnail_generator import process, upload
from tests.unit.test_fingerprints import TEXT, ocr_noise

export_env = exports.export_env  # the export's fixture, reused under its name

RECEIPT = "/receipts/{receiptId}"
PAIRS = "/receipts/duplicates"
RESOLVE = "/receipts/{receiptId}/duplicates/{otherReceiptId}"


@pytest.fixture
def crud(api_env, receipt_changes) -> ApiClient:
    """receipt-crud, whose every request comes after the checks of the changes before it."""
    return ApiClient(load_function("receipt_crud"), before_each_call=receipt_changes.deliver)


@pytest.fixture
def thumbnails(api_env, images_bucket):
    return load_function("thumbnail_generator")


def a_pair(
    crud: ApiClient, user: str = "user-a", text: str = TEXT, **fields: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two receipts of one purchase, read by two phones and flagged: the first as it is now, and
    the second."""
    first = create(crud, user=user, ocrRawText=text, **fields)
    second = create(crud, user=user, ocrRawText=ocr_noise(text, 0.02, seed=1), **fields)
    assert flagged_ids(second) == [first["receiptId"]]
    return get(crud, first["receiptId"], user=user), second


def resolve(
    crud: ApiClient,
    kept: dict[str, Any],
    other: dict[str, Any],
    action: str,
    user: str = "user-a",
    overrides: dict[str, Any] | None = None,
):
    body = {
        "action": action,
        "serverVersion": kept["serverVersion"],
        "otherServerVersion": other["serverVersion"],
        **(overrides or {}),
    }
    path = {"receiptId": kept["receiptId"], "otherReceiptId": other["receiptId"]}
    return crud.call("POST", RESOLVE, path_parameters=path, body=body, user=user)


def pairs(crud: ApiClient, user: str = "user-a", **query: str) -> dict[str, Any]:
    response = crud.call("GET", PAIRS, query=query or None, user=user)
    assert response.status == 200, response.body
    return response.body


def stored(table, receipt_id: str, user: str = "user-a") -> dict[str, Any]:
    return table.get_item(Key={"PK": f"USER#{user}", "SK": f"RECEIPT#{receipt_id}"})["Item"]


# -- the list ----------------------------------------------------------------------------------------


def test_a_flagged_pair_is_listed_once_with_both_receipts_as_they_are(crud):
    first, second = a_pair(crud)

    [pair] = pairs(crud)["items"]

    lower, higher = sorted((first, second), key=lambda receipt: receipt["receiptId"])
    assert pair["receipt"] == get(crud, lower["receiptId"]) and pair["other"] == get(crud, higher["receiptId"])
    assert pair["reasons"] == ["same-content", "similar-text"] and 0 < pair["score"] < 1
    assert pairs(crud, user="user-b") == {"items": []}


def test_the_list_pages_with_a_token_no_other_listing_accepts(crud):
    a_pair(crud)
    a_pair(crud, text=TEXT.replace("129.99", "7.00"), totalAmount="7.00")  # another purchase: its own pair
    receipts_page = crud.call("GET", "/receipts", query={"limit": "1"}).body

    first = pairs(crud, limit="1")
    second = pairs(crud, limit="1", nextToken=first["nextToken"])
    assert len(first["items"]) == 1 and len(second["items"]) == 1
    assert first["items"][0]["receipt"]["receiptId"] != second["items"][0]["receipt"]["receiptId"]
    for foreign in (receipts_page["nextToken"], "garbage"):
        response = crud.call("GET", PAIRS, query={"nextToken": foreign})
        assert_error_shape(response, 400, "VALIDATION_ERROR")
    for query in ({"limit": "0"}, {"limit": "51"}, {"order": "score"}):
        assert crud.call("GET", PAIRS, query=query).status == 400


def test_a_pair_whose_flag_is_gone_from_either_side_is_not_listed(crud, table):
    first, _ = a_pair(crud)
    # An interrupted check: the flag taken off one receipt, its pair item left behind.
    table.update_item(
        Key={"PK": "USER#user-a", "SK": f"RECEIPT#{first['receiptId']}"},
        UpdateExpression="REMOVE possibleDuplicates",
    )

    assert pairs(crud) == {"items": []}


def test_an_edit_that_makes_the_facts_differ_takes_the_pair_off_the_list(crud):
    _, second = a_pair(crud)
    put(crud, second, totalAmount="3.00", ocrRawText=TEXT.replace("129.99", "3.00"))

    assert pairs(crud) == {"items": []}


def test_deleting_one_of_the_pair_takes_it_off_the_list_and_a_restore_lists_it_again(crud):
    _, second = a_pair(crud)
    path = {"receiptId": second["receiptId"]}
    assert crud.call("DELETE", RECEIPT, path_parameters=path).status == 200
    assert pairs(crud) == {"items": []}

    assert crud.call("POST", RECEIPT + "/restore", path_parameters=path).status == 200
    assert len(pairs(crud)["items"]) == 1


# -- keep_both -------------------------------------------------------------------------------------


def test_keep_both_dismisses_the_pair_for_good(crud):
    first, second = a_pair(crud)

    response = resolve(crud, first, second, "keep_both")

    assert response.status == 200, response.body
    assert response.body["action"] == "keep_both"
    kept, other = response.body["receipt"], response.body["other"]
    assert kept["serverVersion"] == first["serverVersion"] + 1 and other["serverVersion"] == second["serverVersion"] + 1
    assert flagged_ids(kept) == [] and flagged_ids(other) == [] and other["status"] == "active"
    assert pairs(crud) == {"items": []}
    # Edits that change the facts and change them back examine both again: never flagged again.
    put(crud, other, ocrRawText=TEXT.replace("129.99", "3.00"), totalAmount="3.00")
    again = put(crud, other, ocrRawText=TEXT, totalAmount="129.99")
    assert flagged_ids(again) == [] and flagged_ids(get(crud, first["receiptId"])) == []
    # ...while a third copy is still found, with both.
    third = create(crud)
    assert sorted(flagged_ids(third)) == sorted([first["receiptId"], second["receiptId"]])


def test_keep_both_from_the_other_side_is_the_same_decision(crud):
    first, second = a_pair(crud)
    done = resolve(crud, first, second, "keep_both")

    retried = resolve(crud, second, first, "keep_both")  # the other phone, on what it saw

    assert retried.status == 200, retried.body
    assert (retried.body["receipt"], retried.body["other"]) == (done.body["other"], done.body["receipt"])


# -- discard_other and merge -----------------------------------------------------------------------


def test_discard_other_soft_deletes_it_restorably_and_restored_it_is_not_flagged_again(crud):
    first, second = a_pair(crud)

    response = resolve(crud, first, second, "discard_other")

    assert response.status == 200, response.body
    kept, other = response.body["receipt"], response.body["other"]
    assert other["status"] == "deleted" and "deletedAt" in other
    assert kept["storeName"] == first["storeName"] and kept["status"] == "active" and flagged_ids(kept) == []
    assert crud.call("GET", "/receipts").body["items"] == [get(crud, first["receiptId"])]
    restored = crud.call("POST", RECEIPT + "/restore", path_parameters={"receiptId": second["receiptId"]})
    assert restored.status == 200 and restored.body["status"] == "active"
    assert flagged_ids(restored.body) == [] and pairs(crud) == {"items": []}


def test_merge_moves_the_images_and_the_fields_the_kept_receipt_lacks(crud, thumbnails, images_bucket):
    first = create(crud, notes=None, category=None)
    second = create(crud, ocrRawText=ocr_noise(TEXT, 0.02, seed=1), notes="gift for dad", category="Electronics")
    keys = {}
    for receipt, seed in ((first, 1), (second, 2)):
        keys[receipt["receiptId"]] = upload(IMAGES_BUCKET, {"receiptId": receipt["receiptId"]}, photo(seed), "jpg")
        assert process(thumbnails, IMAGES_BUCKET, keys[receipt["receiptId"]]) == ["generated"]
    first, second = get(crud, first["receiptId"]), get(crud, second["receiptId"])
    assert flagged_ids(first) == [second["receiptId"]]

    response = resolve(crud, first, second, "merge")

    assert response.status == 200, response.body
    kept, other = response.body["receipt"], response.body["other"]
    assert kept["imageKeys"] == [keys[first["receiptId"]], keys[second["receiptId"]]]
    assert len(kept["thumbnailKeys"]) == 2 and set(other["thumbnailKeys"]) <= set(kept["thumbnailKeys"])
    assert (kept["notes"], kept["category"]) == ("gift for dad", "Electronics")
    assert kept["ocrRawText"] == first["ocrRawText"]  # what it had stays
    assert other["status"] == "deleted" and other["imageKeys"] == [keys[second["receiptId"]]]
    assert flagged_ids(kept) == [] and pairs(crud) == {"items": []}
    # The merged receipt is listed by the category it gained, and the other is not listed at all.
    listed = crud.call("GET", "/receipts", query={"category": "Electronics"}).body["items"]
    assert [receipt["receiptId"] for receipt in listed] == [first["receiptId"]]
    # Its images are still its own: an image downloads through the receipt it was merged into.
    presigned = ApiClient(load_function("presigned_url_generator"))
    image_id = keys[second["receiptId"]].rsplit("/", 1)[1].split(".")[0]
    path = {"receiptId": first["receiptId"], "imageId": image_id}
    assert (
        presigned.call("GET", "/receipts/{receiptId}/images/{imageId}/download-url", path_parameters=path).status == 200
    )


def test_a_merge_fills_the_warranty_by_the_kept_receipts_own_date(crud):
    first = create(crud, warrantyMonths=None)
    second = create(crud, ocrRawText=ocr_noise(TEXT, 0.02, seed=1), warrantyMonths=24)
    first = get(crud, first["receiptId"])
    assert "warrantyExpiryDate" not in first

    kept = resolve(crud, first, second, "merge").body["receipt"]

    assert kept["warrantyMonths"] == 24
    assert kept["warrantyExpiryDate"] == second["warrantyExpiryDate"]  # the same purchase date: the same end


def test_a_merge_past_the_image_cap_is_a_400_and_changes_nothing(crud, table):
    first, second = a_pair(crud)
    images = [f"users/user-a/receipts/{second['receiptId']}/original/{uuid.uuid4()}.jpg" for _ in range(11)]
    for receipt in (first, second):
        table.update_item(
            Key={"PK": "USER#user-a", "SK": f"RECEIPT#{receipt['receiptId']}"},
            UpdateExpression="SET imageKeys = :keys",
            ExpressionAttributeValues={
                ":keys": images
                if receipt is second
                else [i.replace(second["receiptId"], first["receiptId"]) for i in images]
            },
        )
    before = [stored(table, receipt["receiptId"]) for receipt in (first, second)]

    response = resolve(crud, first, second, "merge")

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert [stored(table, receipt["receiptId"]) for receipt in (first, second)] == before


# -- conditional, idempotent, isolated -------------------------------------------------------------


@pytest.mark.parametrize("action", ["keep_both", "merge", "discard_other"])
def test_a_retried_resolution_is_answered_as_the_first_and_writes_nothing(crud, table, action, receipt_changes):
    first, second = a_pair(crud)
    done = resolve(crud, first, second, action)
    assert done.status == 200, done.body
    receipt_changes.deliver()  # what the resolution's changes make the checker do
    after = [stored(table, receipt["receiptId"]) for receipt in (first, second)]
    calls = DynamoCalls(crud.module.table.client)

    retried = resolve(crud, first, second, action)  # the response was lost

    assert retried.status == 200 and retried.body == done.body
    assert [stored(table, receipt["receiptId"]) for receipt in (first, second)] == after
    assert set(calls.counts) == {"BatchGetItem"}


@pytest.mark.parametrize("request_after", [{"action": "discard_other"}, {"action": "keep_both", "serverVersion": 1}])
def test_another_request_on_a_resolved_pair_is_a_409_even_the_same_decision_on_other_versions(
    crud, table, request_after
):
    first, second = a_pair(crud)
    assert resolve(crud, first, second, "keep_both").status == 200
    after = [stored(table, receipt["receiptId"]) for receipt in (first, second)]

    response = resolve(crud, first, second, request_after["action"], overrides=request_after)

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["other"]["status"] == "active"
    assert [stored(table, receipt["receiptId"]) for receipt in (first, second)] == after


def test_a_pair_one_side_of_which_was_deleted_is_a_409_with_both(crud):
    first, second = a_pair(crud)
    assert crud.call("DELETE", RECEIPT, path_parameters={"receiptId": second["receiptId"]}).status == 200

    response = resolve(crud, first, second, "merge")

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["other"]["status"] == "deleted"
    assert response.body["current"]["receipt"] == get(crud, first["receiptId"])


def test_a_resolution_on_a_version_the_user_did_not_review_is_a_409_and_changes_nothing(crud, table):
    first, second = a_pair(crud)
    edited = put(crud, second, notes="edited on the other phone")
    before = [stored(table, receipt["receiptId"]) for receipt in (first, second)]

    response = resolve(crud, first, second, "merge")  # on the second's old version

    assert response.status == 409, response.body
    assert response.body["current"]["other"] == edited
    assert response.body["current"]["receipt"] == get(crud, first["receiptId"])
    assert [stored(table, receipt["receiptId"]) for receipt in (first, second)] == before


def decide_at_once(crud: ApiClient, first: dict[str, Any], second: dict[str, Any], actions: list[str]) -> list[Any]:
    """Two phones deciding on the pair at the same moment, each in its own invocation. The
    service is called directly: Powertools keeps the current event on its router class, so two
    in-process invocations through the handler would share one request (in Lambda, each
    invocation has its own process)."""
    reviews = [load_function("receipt_crud").review for _ in actions]
    answers: list[Any] = [None] * len(actions)
    barrier = threading.Barrier(len(actions))

    def decide(index: int) -> None:
        request = DuplicateResolution(
            action=actions[index], serverVersion=first["serverVersion"], otherServerVersion=second["serverVersion"]
        )
        barrier.wait()
        try:
            answers[index], _ = reviews[index].resolve(
                "user-a", first["receiptId"], second["receiptId"], request, utc_now()
            )
        except ApiError as error:
            answers[index] = error

    threads = [threading.Thread(target=decide, args=(index,)) for index in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_two_different_decisions_at_once_one_wins_whole(crud, table):
    first, second = a_pair(crud)

    answers = decide_at_once(crud, first, second, ["merge", "keep_both"])

    [winner] = [answer["action"] for answer in answers if isinstance(answer, dict)]
    [loser] = [answer for answer in answers if isinstance(answer, ApiError)]
    assert isinstance(loser, VersionConflictError), loser
    other = stored(table, second["receiptId"])
    assert other["status"] == ("deleted" if winner == "merge" else "active")
    assert other["serverVersion"] == second["serverVersion"] + 1  # one write, whichever won
    decision = "merged-into" if winner == "merge" else "keep_both"
    assert other["duplicateResolutions"] == {
        f"{first['receiptId']} {decision} {second['serverVersion']}/{first['serverVersion']}"
    }


def test_the_same_decision_from_two_phones_at_once_is_applied_once(crud, table):
    first, second = a_pair(crud)

    answers = decide_at_once(crud, first, second, ["discard_other", "discard_other"])

    assert all(isinstance(answer, dict) for answer in answers), answers
    assert answers[0] == answers[1]
    assert stored(table, first["receiptId"])["serverVersion"] == first["serverVersion"] + 1


@pytest.mark.parametrize("whose", ["receipt", "other", "both"])
def test_another_users_receipts_are_not_found_and_untouched(crud, table, whose):
    mine, my_other = a_pair(crud, user="user-a")
    theirs, their_other = a_pair(crud, user="user-b")
    kept = theirs if whose in ("receipt", "both") else mine
    other = their_other if whose in ("other", "both") else my_other
    before = [stored(table, receipt["receiptId"], user) for receipt, user in
              ((theirs, "user-b"), (their_other, "user-b"), (mine, "user-a"), (my_other, "user-a"))]  # fmt: skip

    response = resolve(crud, kept, other, "discard_other", user="user-a")

    assert_error_shape(response, 404, "NOT_FOUND")
    after = [stored(table, receipt["receiptId"], user) for receipt, user in
             ((theirs, "user-b"), (their_other, "user-b"), (mine, "user-a"), (my_other, "user-a"))]  # fmt: skip
    assert after == before


def test_receipts_never_flagged_together_cannot_be_resolved(crud):
    first = create(crud)
    unrelated = create(crud, totalAmount="4.00", ocrRawText=None)

    response = resolve(crud, first, unrelated, "merge")

    assert_error_shape(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "change",
    [
        {"action": "delete"},
        {"action": None},
        {"serverVersion": 0},
        {"otherServerVersion": 2**53},
        {"otherServerVersion": "1"},
        {"extra": True},
    ],
)
def test_a_malformed_decision_is_a_400_and_changes_nothing(crud, table, change):
    first, second = a_pair(crud)
    before = [stored(table, receipt["receiptId"]) for receipt in (first, second)]

    response = resolve(crud, first, second, "merge", overrides=change)

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert [stored(table, receipt["receiptId"]) for receipt in (first, second)] == before


def test_a_receipt_is_not_its_own_duplicate(crud):
    first, _ = a_pair(crud)

    assert resolve(crud, first, first, "merge").status == 400


# -- the user's data -------------------------------------------------------------------------------


def test_the_export_holds_what_detection_derived_and_what_the_user_decided(export_env, receipt_changes):
    crud = ApiClient(load_function("receipt_crud"), before_each_call=receipt_changes.deliver)
    first, second = a_pair(crud, user=exports.USER)
    assert resolve(crud, first, second, "keep_both", user=exports.USER).status == 200
    export_id = (
        ApiClient(load_function("export_request")).call("POST", "/user/export", user=exports.USER).body["exportId"]
    )

    assert exports.deliver(load_function("export_handler"), export_env)["batchItemFailures"] == []

    records = {record["receiptId"]: record for record in json.loads(exports.the_zip(export_id).read("duplicates.json"))}
    assert set(records) == {first["receiptId"], second["receiptId"]}
    mine = records[first["receiptId"]]
    assert mine["fingerprints"]["contentKey"] == f"mediamarkt athens|{first['purchaseDate']}|129.99|EUR"
    assert mine["fingerprints"]["textSignature"]  # the MinHash of its OCR text
    assert mine["reviewDecisions"] == [
        f"{second['receiptId']} keep_both {first['serverVersion']}/{second['serverVersion']}"
    ]


def test_an_upload_in_flight_during_a_merge_follows_it_to_the_kept_receipt(crud, thumbnails, images_bucket):
    first, second = a_pair(crud)
    late = upload(IMAGES_BUCKET, {"receiptId": second["receiptId"]}, photo(seed=4), "jpg")  # not processed yet
    assert resolve(crud, first, second, "merge").status == 200

    assert process(thumbnails, IMAGES_BUCKET, late) == ["generated"]

    kept, other = get(crud, first["receiptId"]), get(crud, second["receiptId"])
    assert kept["imageKeys"] == [late] and other["imageKeys"] == [late]  # a restore keeps it too
    assert len(kept["thumbnailKeys"]) == 1 and flagged_ids(kept) == []


def test_a_merge_never_takes_the_others_warranty_state_an_absent_one_is_active(crud):
    first = create(crud)
    second = create(crud, ocrRawText=ocr_noise(TEXT, 0.02, seed=1), warrantyStatus="void")
    first = get(crud, first["receiptId"])
    assert flagged_ids(first) == [second["receiptId"]]

    kept = resolve(crud, first, second, "merge").body["receipt"]

    assert "warrantyStatus" not in kept
