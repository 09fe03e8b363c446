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
