"""Duplicate detection through the local stack: the same paper receipt, captured by two phones of
one user as two different photos with two OCR readings, is flagged on both receipts, and the
first phone learns it from a delta pull."""

from __future__ import annotations

import io
import uuid
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance

from tests.integration.conftest import http, new_user_token
from tests.integration.test_erasure_two_phones import eventually, upload
from tests.unit.test_fingerprints import RECEIPT, TEXT, ocr_noise


def photo(angle: float, brightness: float) -> bytes:
    paper = Image.new("RGB", (600, 900), "white")
    draw = ImageDraw.Draw(paper)
    for row, line in enumerate(TEXT.splitlines()):
        draw.text((40, 40 + row * 36), line, fill="black")
    shot = ImageEnhance.Brightness(paper.rotate(angle, fillcolor="white")).enhance(brightness)
    output = io.BytesIO()
    shot.save(output, "JPEG", quality=85)
    return output.getvalue()


def capture(stack, token: str, text: str, picture: bytes) -> dict[str, Any]:
    """What a phone does: push the receipt it made offline, then upload its photo."""
    fields = {name: RECEIPT[name] for name in ("storeName", "purchaseDate", "totalAmount", "currency")}
    item = {"receiptId": str(uuid.uuid4()), **fields, "ocrRawText": text, "mutationId": str(uuid.uuid4())}
    [result] = http(stack, "POST", "/sync/push", {"items": [item]}, token=token).body["results"]
    assert result["outcome"] == "accepted", result
    grant = http(
        stack,
        "POST",
        f"/receipts/{item['receiptId']}/images/upload-url",
        {"contentType": "image/jpeg", "contentLength": len(picture)},
        token=token,
    ).body
    assert upload(grant, picture) == 200
    return result["item"]


def test_two_phones_capturing_one_receipt_see_the_pair_flagged_on_both(stack):
    token = new_user_token(stack)
    first_phone_sync = http(stack, "POST", "/sync/pull", {}, token=token).body["syncTimestamp"]

    first = capture(stack, token, TEXT, photo(angle=-2, brightness=1.0))
    second = capture(stack, token, ocr_noise(TEXT, 0.02, seed=5), photo(angle=4, brightness=1.2))

    def with_images_and_flags(receipt_id: str) -> dict[str, Any] | None:
        current = http(stack, "GET", f"/receipts/{receipt_id}", token=token).body
        return current if current["thumbnailKeys"] and current.get("possibleDuplicates") else None

    first_now = eventually(lambda: with_images_and_flags(first["receiptId"]))
    second_now = eventually(lambda: with_images_and_flags(second["receiptId"]))
    assert first_now and second_now
    assert [flag["receiptId"] for flag in first_now["possibleDuplicates"]] == [second["receiptId"]]
    [flag] = second_now["possibleDuplicates"]
    assert flag["receiptId"] == first["receiptId"] and {"same-content", "similar-text"} <= set(flag["reasons"])

    pulled = http(stack, "POST", "/sync/pull", {"lastSyncTimestamp": first_phone_sync}, token=token).body
    on_the_first_phone = {receipt["receiptId"]: receipt for receipt in pulled["items"]}
    assert on_the_first_phone[first["receiptId"]]["possibleDuplicates"] == first_now["possibleDuplicates"]


def test_a_pair_merged_on_one_phone_syncs_to_the_other_as_one_receipt(stack):
    """Two phones, two photos of one receipt: the pair is flagged, listed and merged on the first
    phone (its response lost, so it asks again), and the second phone's delta pull brings it the
    merged receipt and the tombstone of its own copy."""
    token = new_user_token(stack)
    first = capture(stack, token, TEXT, photo(angle=-2, brightness=1.0))
    second = capture(stack, token, ocr_noise(TEXT, 0.02, seed=5), photo(angle=4, brightness=1.2))
    second_phone_sync = http(stack, "POST", "/sync/pull", {}, token=token).body["syncTimestamp"]

    def the_pair_with_both_images() -> dict[str, Any] | None:
        listed = http(stack, "GET", "/receipts/duplicates", token=token).body["items"]
        if len(listed) == 1 and all(listed[0][side]["thumbnailKeys"] for side in ("receipt", "other")):
            return listed[0]
        return None

    pair = eventually(the_pair_with_both_images)
    assert pair, "the pair was never listed with both images"
    kept, other = (pair["receipt"], pair["other"])
    if kept["receiptId"] != first["receiptId"]:
        kept, other = other, kept
    decision = {"action": "merge", "serverVersion": kept["serverVersion"], "otherServerVersion": other["serverVersion"]}
    path = f"/receipts/{kept['receiptId']}/duplicates/{other['receiptId']}"

    merged = http(stack, "POST", path, decision, token=token)
    retried = http(stack, "POST", path, decision, token=token)  # the first response was lost

    assert merged.status == 200, merged.body
    assert retried.status == 200 and retried.body == merged.body
    assert merged.body["receipt"]["imageKeys"] == kept["imageKeys"] + other["imageKeys"]
    assert merged.body["other"]["status"] == "deleted"
    assert http(stack, "GET", "/receipts/duplicates", token=token).body == {"items": []}

    pulled = http(stack, "POST", "/sync/pull", {"lastSyncTimestamp": second_phone_sync}, token=token).body
    on_the_second_phone = {receipt["receiptId"]: receipt for receipt in pulled["items"]}
    assert on_the_second_phone[first["receiptId"]] == merged.body["receipt"]
    assert pulled["deleted"] == [second["receiptId"]]  # its own copy, a tombstone
    assert not on_the_second_phone[first["receiptId"]]["possibleDuplicates"]
    active = http(stack, "GET", "/receipts", token=token).body["items"]
    assert [receipt["receiptId"] for receipt in active] == [first["receiptId"]]
