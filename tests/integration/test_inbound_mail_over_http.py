"""Receipts by e-mail through the local stack, as a user forwards them: an address from the API,
two messages over real SMTP (smtplib), and the receipts they become, seen through the API.

The SMTP listener stands in for SES receiving (local/smtp.py): it stores each message in the
inbound bucket as SES's S3 action does, and the bucket's event invokes the inbound-mail function.
"""

from __future__ import annotations

import base64
import io
import json
import smtplib
import urllib.request
import uuid
import zipfile
from typing import Any

from local import example_client
from tests.integration.conftest import http
from tests.integration.test_erasure_two_phones import eventually
from tests.support import emails


def send(stack: Any, recipient: str, message: bytes) -> None:
    smtp = stack.config_document()["smtp"]
    with smtplib.SMTP(smtp["host"], smtp["port"], timeout=20) as client:
        client.sendmail("receipts@acme.example", [recipient], message)


def inbound_objects(stack: Any) -> list[str]:
    bucket = stack.functions["InboundMailFunction"].environment["INBOUND_BUCKET"]
    return [item["Key"] for item in stack.resources.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def sub_of(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def test_two_messages_become_two_refined_receipts_with_thumbnails_in_sync_and_export(stack):
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    token = example_client.sign_up_and_sign_in(stack.config_document(), email, "Sup3r-Secret!")
    enabled = http(stack, "POST", "/user/inbound-address", token=token)
    assert enabled.status == 201, enabled.body
    address = enabled.body["address"]
    assert address.endswith("@" + stack.config_document()["smtp"]["domains"][0])

    invoice = emails.pdf_invoice(recipient=address, ses_headers=False)
    send(stack, address, invoice)
    send(stack, address, emails.html_ride_receipt(recipient=address, ses_headers=False))

    def both_done() -> list[dict[str, Any]] | None:
        listed = http(stack, "GET", "/receipts", token=token).body["items"]
        done = [
            receipt
            for receipt in listed
            if receipt.get("thumbnailKeys") and (receipt.get("refinement") or {}).get("status") == "refined"
        ]
        return done if len(done) == 2 else None

    receipts = eventually(both_done, timeout=60)
    assert receipts, http(stack, "GET", "/receipts", token=token).body
    by_kind = {receipt["imageKeys"][0].rsplit(".", 1)[1]: receipt for receipt in receipts}
    assert set(by_kind) == {"pdf", "html"}
    assert all(receipt["source"] == "email" for receipt in receipts)
    assert by_kind["pdf"]["email"]["sender"] == "receipts@acme.example"
    assert by_kind["pdf"]["totalAmount"] == "149.90"  # Textract's and Bedrock's stand-ins read the PDF
    assert by_kind["html"]["totalAmount"] == "23.40"  # and the HTML's visible text, not its script
    assert inbound_objects(stack) == []  # each raw message read once, then deleted

    pulled = http(stack, "POST", "/sync/pull", {}, token=token).body
    assert {item["receiptId"] for item in pulled["items"]} >= {receipt["receiptId"] for receipt in receipts}

    # A redelivered message (SES or S3 delivering twice) creates nothing new.
    send(stack, address, invoice)
    assert eventually(lambda: not inbound_objects(stack), timeout=30)
    assert len(http(stack, "GET", "/receipts", token=token).body["items"]) == 2

    queued = http(stack, "POST", "/user/export", {}, token=token).body

    def exported() -> dict[str, Any] | None:
        body = http(stack, "GET", f"/user/export/{queued['exportId']}", token=token).body
        return body if body["status"] in ("ready", "failed") else None

    status = eventually(exported, timeout=60)
    assert status and status["status"] == "ready", status
    with urllib.request.urlopen(status["downloadUrl"], timeout=10) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    exported_ids = {receipt["receiptId"] for receipt in json.loads(archive.read("receipts.json"))}
    assert exported_ids == {receipt["receiptId"] for receipt in receipts}
    inbound_record = json.loads(archive.read("inbound-mail.json"))
    assert inbound_record["address"]["enabled"] is True and len(inbound_record["messages"]) == 2
    assert address.split("@")[0] not in json.dumps(inbound_record)  # never the address itself
    assert any(name.endswith(".html") for name in archive.namelist())

    # Erasure: the address stops working, and nothing of the mail is left.
    deletion_token = http(stack, "POST", "/user/account/deletion-token", token=token).body["deletionToken"]
    erased = http(stack, "DELETE", "/user/account", token=token, headers={"x-deletion-token": deletion_token})
    assert erased.status == 202 and erased.body["status"] == "completed", erased.body
    table = stack.functions["InboundMailFunction"].environment["TABLE_NAME"]
    items = stack.resources.client("dynamodb").scan(TableName=table)["Items"]
    user_id = sub_of(token)
    assert not [item for item in items if item.get("userId", {}).get("S") == user_id]  # the address's lookup
    assert not [item for item in items if item["PK"]["S"] == f"USER#{user_id}"]
    send(stack, address, emails.pdf_invoice(recipient=address, ses_headers=False, message_id="<after@acme.example>"))
    assert eventually(lambda: not inbound_objects(stack), timeout=30)  # discarded: nobody's address
    assert not [
        item
        for item in stack.resources.client("dynamodb").scan(TableName=table)["Items"]
        if item["PK"]["S"] == f"USER#{user_id}"
    ]


def test_mail_for_another_domain_is_refused_at_smtp_and_stores_nothing(stack):
    smtp = stack.config_document()["smtp"]
    with smtplib.SMTP(smtp["host"], smtp["port"], timeout=20) as client:
        client.ehlo()
        code, _ = client.docmd("MAIL FROM:<shop@acme.example>")
        assert code == 250
        code, _ = client.docmd("RCPT TO:<someone@example.com>")
        assert code == 550
    assert inbound_objects(stack) == []
