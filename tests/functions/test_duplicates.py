"""Duplicate detection of what the functions that write receipts wrote (receipt-crud, sync-handler,
ocr-refine and the thumbnail generator), by duplicate-checker from the table's stream. A pair is
flagged on both receipts, once; a write never waits or fails for it; a failed check is retried
and, failed for good, done at the receipt's next change; and one more image costs the same calls
in an account of 10 receipts and one of 5,000."""

from __future__ import annotations

import io
import threading
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from PIL import Image, ImageDraw, ImageEnhance

from receipt_vault.duplicates.fingerprints import of_receipt
from tests.conftest import IMAGES_BUCKET, ApiClient, DynamoCalls, assert_error_shape, load_function
from tests.functions.test_receipt_crud import a_receipt, stored_items
from tests.functions.test_thumbnail_generator import process, upload
from tests.unit.test_fingerprints import TEXT, ocr_noise

RECEIPT = "/receipts/{receiptId}"


@pytest.fixture
def crud(api_env, receipt_changes) -> ApiClient:
    """receipt-crud, whose every request comes after the checks of the changes before it."""
    return ApiClient(load_function("receipt_crud"), before_each_call=receipt_changes.deliver)


@pytest.fixture
def sync(api_env, monkeypatch, receipt_changes) -> ApiClient:
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    return ApiClient(load_function("sync_handler"), before_each_call=receipt_changes.deliver)


@pytest.fixture
def thumbnails(api_env, images_bucket):
    return load_function("thumbnail_generator")


def create(crud: ApiClient, user: str = "user-a", **fields: Any) -> dict[str, Any]:
    """A new receipt, as it is once checked."""
    body = {name: value for name, value in a_receipt(**{"ocrRawText": TEXT, **fields}).items() if value is not None}
    response = crud.call("POST", "/receipts", body=body, user=user)
    assert response.status == 201, response.body
    return get(crud, response.body["receiptId"], user=user)


def get(crud: ApiClient, receipt_id: str, user: str = "user-a") -> dict[str, Any]:
    response = crud.call("GET", RECEIPT, path_parameters={"receiptId": receipt_id}, user=user)
    assert response.status == 200, response.body
    return response.body


def flagged_ids(receipt: dict[str, Any]) -> list[str]:
    return [flag["receiptId"] for flag in receipt.get("possibleDuplicates", [])]


def test_the_same_receipt_entered_twice_is_flagged_on_both_and_syncs_as_a_change(crud):
    first = create(crud)
    second = create(crud, ocrRawText=ocr_noise(TEXT, 0.02, seed=1))  # the second phone's OCR

    assert flagged_ids(second) == [first["receiptId"]]
    [flag] = second["possibleDuplicates"]
    assert flag["reasons"] == ["same-content", "similar-text"] and 0 < flag["score"] < 1
    first_now = get(crud, first["receiptId"])
    assert flagged_ids(first_now) == [second["receiptId"]]
    # A server-side change: the version and updatedAt move, so a delta pull carries it.
    assert first_now["serverVersion"] == first["serverVersion"] + 1
    assert first_now["updatedAt"] >= first["updatedAt"]


def test_the_same_shop_and_day_with_another_total_is_not_flagged(crud):
    create(crud)
    other = create(crud, totalAmount="12.50", ocrRawText=TEXT.replace("129.99", "12.50"))

    assert "possibleDuplicates" not in other


def test_another_users_identical_receipt_is_never_a_candidate(crud):
    mine = create(crud, user="user-a")
    theirs = create(crud, user="user-b")

    assert "possibleDuplicates" not in theirs
    assert "possibleDuplicates" not in get(crud, mine["receiptId"], user="user-a")


def test_a_deleted_receipt_is_not_a_duplicate_of_a_new_one(crud):
    old = create(crud)
    assert crud.call("DELETE", RECEIPT, path_parameters={"receiptId": old["receiptId"]}).status == 200

    assert "possibleDuplicates" not in create(crud)


def test_with_detection_off_nothing_is_flagged(crud, table):
    table.put_item(Item={"PK": "USER#user-a", "SK": "META#SETTINGS", "duplicateDetection": "off", "serverVersion": 1})
    first = create(crud)

    assert "possibleDuplicates" not in create(crud)
    assert "possibleDuplicates" not in get(crud, first["receiptId"])


def test_a_retried_create_flags_nothing_twice_and_moves_no_version(crud):
    first = create(crud)
    receipt_id = str(uuid.uuid4())
    body = a_receipt(ocrRawText=TEXT, receiptId=receipt_id)
    created = crud.call("POST", "/receipts", body=body)
    retried = crud.call("POST", "/receipts", body=body)  # the response was lost
    again = crud.call("POST", "/receipts", body=body)

    assert (created.status, retried.status, again.status) == (201, 200, 200)
    # The stored receipt, checked meanwhile: flagged once, one version on from the create.
    assert retried.body == again.body == get(crud, receipt_id)
    assert flagged_ids(retried.body) == [first["receiptId"]]
    assert retried.body["serverVersion"] == created.body["serverVersion"] + 1
    assert get(crud, first["receiptId"])["serverVersion"] == first["serverVersion"] + 1


def test_a_get_put_round_trip_keeps_the_flags_and_an_edited_flag_is_a_400(crud):
    create(crud)
    second = create(crud)
    path = {"receiptId": second["receiptId"]}

    edited = crud.call("PUT", RECEIPT, path_parameters=path, body={**second, "notes": "two phones"})
    assert edited.status == 200, edited.body
    assert edited.body["possibleDuplicates"] == second["possibleDuplicates"]

    forged = [{**edited.body["possibleDuplicates"][0], "score": 0.01}]
    response = crud.call("PUT", RECEIPT, path_parameters=path, body={**edited.body, "possibleDuplicates": forged})
    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert response.body["details"] == [{"field": "possibleDuplicates", "message": "differs from the stored value"}]


def test_an_edit_that_changes_no_fact_costs_no_duplicate_check(crud, table, receipt_changes):
    first = create(crud)
    calls = DynamoCalls(crud.module.receipts.store.table.client)
    checks = DynamoCalls(receipt_changes.checker.table.client)
    body = {**first, "notes": "warranty card in the box"}

    assert crud.call("PUT", RECEIPT, path_parameters={"receiptId": first["receiptId"]}, body=body).status == 200
    assert receipt_changes.deliver() == 1
    assert calls.counts == {"UpdateItem": 1}
    # The checker reads the erasure marker and the receipt, finds nothing to examine, and asks
    # about erasure once more (one that began meanwhile would take back what a check wrote).
    assert checks.counts == {"GetItem": 3}


def throttled(*args, **kwargs):
    raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")


def test_a_throttled_check_never_fails_the_write_and_its_retry_flags_the_pair(
    crud, table, monkeypatch, receipt_changes
):
    first = create(crud)
    checker_table = receipt_changes.checker.checks.detector.store.table
    real_query = checker_table.query
    failures = iter([True])  # the first lookup is throttled, the stream's retry is not
    monkeypatch.setattr(
        checker_table, "query", lambda *a, **k: throttled() if next(failures, False) else real_query(*a, **k)
    )

    response = crud.call("POST", "/receipts", body=a_receipt(ocrRawText=TEXT))
    assert response.status == 201 and "possibleDuplicates" not in response.body  # never waited for the check
    receipt_changes.deliver()

    assert flagged_ids(get(crud, response.body["receiptId"])) == [first["receiptId"]]
    assert flagged_ids(get(crud, first["receiptId"])) == [response.body["receiptId"]]
    assert receipt_changes.dead_letters() == []


def test_a_check_that_fails_every_retry_goes_to_the_dlq_and_the_next_change_flags_it(
    crud, table, monkeypatch, receipt_changes, caplog
):
    first = create(crud)
    monkeypatch.setattr(receipt_changes.checker.checks.detector.store.table, "query", throttled)
    response = crud.call("POST", "/receipts", body=a_receipt(ocrRawText=TEXT))
    assert response.status == 201
    receipt_changes.deliver()

    # The first try and three retries, then the record's batch info in the DLQ, and the stream
    # moves on; the receipt is kept, unflagged, and nothing of the failed check feeds the stream.
    [dead] = receipt_changes.dead_letters()
    assert dead["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert dead["DDBStreamBatchInfo"]["batchSize"] == 1
    assert caplog.text.count("duplicate check failed") == 4
    assert receipt_changes.deliver() == 0
    assert len([item for item in stored_items(table) if item["SK"].startswith("RECEIPT#")]) == 2
    monkeypatch.undo()
    # Nothing recorded as examined: the next change of the receipt examines it in full.
    body = {**get(crud, response.body["receiptId"]), "notes": "again"}
    assert crud.call("PUT", RECEIPT, path_parameters={"receiptId": response.body["receiptId"]}, body=body).status == 200
    assert flagged_ids(get(crud, response.body["receiptId"])) == [first["receiptId"]]


def test_two_devices_creating_the_same_receipt_at_once_still_see_each_other(api_env, receipt_changes):
    """Both writes reach the stream, whichever lands first: the later check finds the pair."""
    clients = [ApiClient(load_function("receipt_crud")) for _ in range(2)]
    created: list[str] = []
    barrier = threading.Barrier(2)

    def enter(client: ApiClient) -> None:
        barrier.wait()
        response = client.call("POST", "/receipts", body=a_receipt(ocrRawText=TEXT))
        created.append(response.body["receiptId"])

    threads = [threading.Thread(target=enter, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    receipt_changes.deliver()

    first, second = (get(clients[0], receipt_id) for receipt_id in created)
    assert flagged_ids(first) == [second["receiptId"]] and flagged_ids(second) == [first["receiptId"]]


def test_a_push_from_a_second_phone_is_flagged_and_the_first_pulls_the_flag(crud, sync):
    first = create(crud)
    pulled = sync.call("POST", "/sync/pull", body={}).body
    receipt_id = str(uuid.uuid4())
    item = {"receiptId": receipt_id, **a_receipt(ocrRawText=ocr_noise(TEXT, 0.02, seed=7))}

    [result] = sync.call("POST", "/sync/push", body={"items": [item]}).body["results"]

    assert result["outcome"] == "accepted"
    changed = sync.call("POST", "/sync/pull", body={"lastSyncTimestamp": pulled["syncTimestamp"]}).body
    by_id = {receipt["receiptId"]: receipt for receipt in changed["items"]}
    assert flagged_ids(by_id[first["receiptId"]]) == [receipt_id]
    assert flagged_ids(by_id[receipt_id]) == [first["receiptId"]]


# -- images ----------------------------------------------------------------------------------------


def photo(seed: int) -> bytes:
    """A receipt photographed: text on paper, a little rotated and lit differently each time."""
    paper = Image.new("RGB", (600, 900), "white")
    draw = ImageDraw.Draw(paper)
    for row, line in enumerate(TEXT.splitlines()):
        draw.text((40, 40 + row * 36), line, fill="black")
    shot = ImageEnhance.Brightness(paper.rotate(seed % 5 - 2, fillcolor="white")).enhance(1 + seed / 20)
    output = io.BytesIO()
    shot.save(output, "JPEG", quality=80 + seed)
    return output.getvalue()


def test_the_same_file_on_two_receipts_is_flagged_as_the_same_image(crud, thumbnails, images_bucket, table):
    first, second = create(crud, totalAmount="1.00", ocrRawText=None), create(crud, ocrRawText=None)
    data = photo(seed=1)
    for receipt in (first, second):
        key = upload(IMAGES_BUCKET, {"receiptId": receipt["receiptId"]}, data, "jpg")
        assert process(thumbnails, IMAGES_BUCKET, key) == ["generated"]

    [flag] = get(crud, second["receiptId"])["possibleDuplicates"]
    assert flag == {"receiptId": first["receiptId"], "reasons": ["same-image"], "score": 1.0}


def seed_account(table, user: str, receipts: int) -> None:
    """An account of `receipts` receipts of the same shop, day and price as the new one, but with
    another text, so that none is its duplicate: every one shares its content key, the lookup key
    that grows with the account. (Their other lookup keys are left out: no new receipt shares them.)"""
    fields = {**a_receipt(), "ocrRawText": "LIDL HELLAS ESPRESSO DOPPIO COFFEE TO GO 2.40 CARD THANK YOU " * 2}
    prints = of_receipt(fields)
    [content_key] = [lookup for lookup in prints.lookup_keys() if lookup.startswith("CONTENT#")]
    with table.batch_writer() as batch:
        for _ in range(receipts):
            receipt_id = str(uuid.uuid4())
            batch.put_item(Item={"PK": f"USER#{user}", "SK": f"RECEIPT#{receipt_id}", "receiptId": receipt_id,
                                 "status": "active", "serverVersion": 1, **fields})  # fmt: skip
            batch.put_item(Item={"PK": f"USER#{user}", "SK": f"DUP#{content_key}#{receipt_id}",
                                 "receiptId": receipt_id, "fingerprints": prints.as_item()})  # fmt: skip


@pytest.mark.parametrize("user", ["small", "large"])
def test_one_new_image_costs_the_same_calls_in_an_account_of_10_and_of_5000(
    user, crud, thumbnails, images_bucket, table, receipt_changes
):
    seed_account(table, user, {"small": 10, "large": 5000}[user])
    receipt_changes.skip()  # seeded as if checked long ago
    receipt = create(crud, user=user)
    key = upload(IMAGES_BUCKET, {"receiptId": receipt["receiptId"]}, photo(seed=3), "jpg", user=user)
    calls = DynamoCalls(thumbnails.pipeline.receipts.table.client)
    checks = DynamoCalls(receipt_changes.checker.table.client)

    assert process(thumbnails, IMAGES_BUCKET, key) == ["generated"]
    assert receipt_changes.deliver() == 2  # the image attached; the check's own record of it

    assert calls.counts == {"GetItem": 1, "UpdateItem": 1}  # the receipt read, its image attached
    # For each record, the erasure marker (before and after) and the receipt read; for the
    # image's: the setting, the receipt's record of its fingerprints, the fingerprints written,
    # one Query per lookup key (the image, the content, eight text bands), each bounded by its Limit.
    assert checks.counts == {"GetItem": 7, "UpdateItem": 1, "BatchWriteItem": 1, "Query": 10}
    assert all(params.get("Limit") == 11 for name, params in checks.requests if name == "Query")


# -- what the adversary found: flags follow the facts, stay capped, and never go stale -------------


def put(crud: ApiClient, receipt: dict[str, Any], **changes: Any) -> dict[str, Any]:
    path = {"receiptId": receipt["receiptId"]}
    response = crud.call("PUT", RECEIPT, path_parameters=path, body={**get(crud, receipt["receiptId"]), **changes})
    assert response.status == 200, response.body
    return response.body


def test_an_edit_that_makes_the_facts_differ_takes_the_flag_off_both(crud):
    first, second = create(crud), create(crud)

    put(crud, second, totalAmount="500.00")

    assert (
        get(crud, second["receiptId"])["possibleDuplicates"] == []
        and get(crud, first["receiptId"])["possibleDuplicates"] == []
    )


def test_deleting_one_of_a_pair_unflags_the_other_and_a_restore_checks_again(crud):
    first, second = create(crud), create(crud)
    assert crud.call("DELETE", RECEIPT, path_parameters={"receiptId": second["receiptId"]}).status == 200
    assert get(crud, first["receiptId"])["possibleDuplicates"] == []

    third = create(crud)
    assert crud.call("POST", f"{RECEIPT}/restore", path_parameters={"receiptId": second["receiptId"]}).status == 200
    restored = get(crud, second["receiptId"])

    assert sorted(flagged_ids(restored)) == sorted([first["receiptId"], third["receiptId"]])
    assert second["receiptId"] in flagged_ids(get(crud, first["receiptId"]))  # both sides again


def test_fingerprints_kept_while_detection_is_off_are_current_when_it_is_on_again(crud, table):
    settings = {"PK": "USER#user-a", "SK": "META#SETTINGS", "serverVersion": 1}
    stale = create(crud)
    table.put_item(Item={**settings, "duplicateDetection": "off"})
    put(crud, stale, totalAmount="20.00")
    table.put_item(Item={**settings, "duplicateDetection": "flag"})

    assert "possibleDuplicates" not in create(crud)  # 129.99: no longer the edited receipt's total


def test_no_receipt_ever_holds_more_flags_than_the_contract_allows_and_its_echo_still_works(crud):
    receipts = [create(crud) for _ in range(26)]

    counts = [len(get(crud, receipt["receiptId"]).get("possibleDuplicates", [])) for receipt in receipts]
    assert max(counts) <= 20 and min(counts) >= 1
    crowded = receipts[counts.index(max(counts))]
    assert put(crud, crowded, notes="still editable")["notes"] == "still editable"


def test_a_stale_lookup_item_of_a_concurrent_edit_makes_no_false_flag(crud, table):
    """Two edits at once can leave a lookup item of the losing edit's facts behind; a flag checks
    the candidate's current fingerprints, so that item matches nothing."""
    receipt = create(crud)
    stale = of_receipt({**receipt, "totalAmount": "11.00"})
    for lookup in stale.lookup_keys():
        table.put_item(Item={"PK": "USER#user-a", "SK": f"DUP#{lookup}#{receipt['receiptId']}",
                             "receiptId": receipt["receiptId"], "fingerprints": stale.as_item()})  # fmt: skip

    assert "possibleDuplicates" not in create(crud, totalAmount="11.00")


def test_the_facts_a_refinement_fills_in_find_the_receipt_already_entered(refine_fn, table, receipt_changes):
    """An offline capture has only its OCR text; once refined, it has the facts of a receipt the
    user typed in on another phone."""
    from tests.functions.test_ocr_refine import ocr_receipt, refine, script
    from tests.support.bedrock import extraction, tool_answer

    capture = ocr_receipt(table)
    answer = extraction()
    typed = ApiClient(load_function("receipt_crud"), before_each_call=receipt_changes.deliver)
    facts = {
        "storeName": answer["merchant"],
        "purchaseDate": answer["date"],
        "totalAmount": answer["total"],
        "currency": answer["currency"],
    }
    entered = typed.call("POST", "/receipts", body=facts).body
    script(refine_fn, haiku=[tool_answer(answer)])

    refined = refine(refine_fn, capture["receiptId"])

    assert refined.status == 200, refined.body
    assert flagged_ids(get(typed, capture["receiptId"])) == [entered["receiptId"]]
    assert flagged_ids(get(typed, entered["receiptId"])) == [capture["receiptId"]]


@pytest.mark.parametrize("score", [1e-300, 0.1234567890123, 1.0])
def test_an_echo_with_a_score_no_flag_has_is_a_400_never_a_500(crud, score):
    create(crud)
    second = create(crud)
    forged = [{**second["possibleDuplicates"][0], "score": score}]
    path = {"receiptId": second["receiptId"]}

    response = crud.call("PUT", RECEIPT, path_parameters=path, body={**second, "possibleDuplicates": forged})

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert get(crud, second["receiptId"]) == second


def test_an_empty_echo_of_a_receipt_never_flagged_is_unchanged(crud):
    receipt = create(crud, ocrRawText=None, storeName="Only one")
    path = {"receiptId": receipt["receiptId"]}

    response = crud.call("PUT", RECEIPT, path_parameters=path, body={**receipt, "possibleDuplicates": [], "notes": "x"})

    assert response.status == 200, response.body
    assert response.body["notes"] == "x"


def test_with_detection_off_a_flag_still_comes_off_when_the_facts_differ(crud, table):
    first, second = create(crud), create(crud)
    assert flagged_ids(second) == [first["receiptId"]]
    settings = {"PK": "USER#user-a", "SK": "META#SETTINGS", "serverVersion": 1}
    table.put_item(Item={**settings, "duplicateDetection": "off"})

    put(crud, first, totalAmount="77.00")

    assert get(crud, first["receiptId"])["possibleDuplicates"] == []
    assert get(crud, second["receiptId"])["possibleDuplicates"] == []
    assert crud.call("GET", "/receipts/duplicates").body["items"] == []
    table.put_item(Item={**settings, "duplicateDetection": "flag"})
    third = create(crud)  # on again: the receipt that still has those facts is found
    assert flagged_ids(third) == [second["receiptId"]]


def test_a_poison_record_fails_alone_and_the_rest_of_its_batch_is_checked(crud, receipt_changes, table):
    from tests.support.api_events import lambda_context

    receipt = crud.call("POST", "/receipts", body=a_receipt(ocrRawText=TEXT)).body
    good = {
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": {"PK": {"S": "USER#user-a"}, "SK": {"S": f"RECEIPT#{receipt['receiptId']}"}},
            "SequenceNumber": "2",
            "StreamViewType": "KEYS_ONLY",
        },
        "eventSource": "aws:dynamodb",
    }
    poison = {**good, "dynamodb": {"Keys": {"PK": {"S": "USER#user-a"}}, "SequenceNumber": "1"}}

    response = receipt_changes.checker.lambda_handler({"Records": [poison, good]}, lambda_context("duplicate-checker"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    stored = table.get_item(Key={"PK": "USER#user-a", "SK": f"RECEIPT#{receipt['receiptId']}"})["Item"]
    assert stored["duplicateFingerprints"]  # the good record was examined


def test_an_erasure_that_begins_during_a_check_leaves_no_fingerprint_behind(crud, receipt_changes, table, monkeypatch):
    """The check looked (no erasure), then the erasure wrote its marker and swept the partition,
    then the check wrote its lookup items: its second look takes them back."""
    from receipt_vault import keys
    from receipt_vault.duplicates.detector import DuplicateDetector

    crud.call("POST", "/receipts", body=a_receipt(ocrRawText=TEXT))
    examine = DuplicateDetector.examine

    def erased_meanwhile(detector, user_id, receipt, now):
        table.put_item(Item={**keys.erasure_key(user_id), "status": "in_progress"})
        for item in stored_items(table):  # the erasure's sweep, before the check writes
            if item["PK"] == f"USER#{user_id}":
                table.delete_item(Key={"PK": item["PK"], "SK": item["SK"]})
        written = examine(detector, user_id, receipt, now)
        assert any(item["SK"].startswith("DUP#") for item in stored_items(table))  # the race, happening
        return written

    monkeypatch.setattr(DuplicateDetector, "examine", erased_meanwhile)
    receipt_changes.deliver()

    assert [item["SK"] for item in stored_items(table) if item["PK"] == "USER#user-a"] == []
