"""inbound-mail: receipts by e-mail, from the raw message SES stores to receipts, as hostile input.

Each message is one of the golden fixtures (tests/support/emails.py), addressed to an address the
user-settings function made, stored in the inbound bucket as SES's S3 action stores it, and
handed to the handler in the S3 event that follows.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from receipt_vault import keys
from tests.conftest import ApiClient, assert_error_shape, load_function
from tests.functions import test_thumbnail_generator as thumbnail_tests
from tests.functions.conftest import make_queue, queued_messages
from tests.support import emails
from tests.support.api_events import lambda_context

INBOUND_BUCKET = "receiptvault-inbound-test"
DOMAIN = "mail.receiptvault.test"


@pytest.fixture
def inbound_env(api_env, images_bucket, monkeypatch) -> dict[str, str]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=INBOUND_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_encryption(  # as the template declares it: SSE-KMS with the stack's key
        Bucket=INBOUND_BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": images_bucket["key_arn"],
                    }
                }
            ]
        },
    )
    queue = make_queue("receiptvault-refinement-test")
    for name, value in {
        "INBOUND_BUCKET": INBOUND_BUCKET,
        "INBOUND_MAIL_DOMAIN": DOMAIN,
        "REFINEMENT_QUEUE_URL": queue,
        "MAX_MESSAGE_SIZE": str(10 * 1024 * 1024),
        "INBOUND_DAILY_LIMIT": "20",
    }.items():
        monkeypatch.setenv(name, value)
    return {"queue": queue, "images": images_bucket["bucket"]}


@pytest.fixture
def mail(inbound_env):
    return load_function("inbound_mail")


@pytest.fixture
def user_settings(inbound_env):
    return ApiClient(load_function("user_settings"))


def enable(user_settings: ApiClient, user: str = "user-a") -> str:
    response = user_settings.call("POST", "/user/inbound-address", user=user)
    assert response.status == 201, response.body
    return str(response.body["address"])


def store_raw(raw: bytes) -> str:
    """The message as SES's S3 action stores it: one object under inbound/, named by SES's id."""
    key = f"inbound/{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
    boto3.client("s3").put_object(Bucket=INBOUND_BUCKET, Key=key, Body=raw)
    return key


def s3_event(key: str, size: int) -> dict[str, Any]:
    return thumbnail_tests.s3_event(INBOUND_BUCKET, key, size)  # S3's event, of the inbound bucket


def deliver(mail, raw: bytes) -> list[str]:
    key = store_raw(raw)
    return mail.lambda_handler(s3_event(key, len(raw)), lambda_context())["outcomes"]


def receipts_of(table, user: str = "user-a") -> list[dict[str, Any]]:
    items = table.query(KeyConditionExpression=Key("PK").eq(keys.user_pk(user)) & Key("SK").begins_with("RECEIPT#"))
    return items["Items"]


def raw_objects() -> list[str]:
    return [item["Key"] for item in boto3.client("s3").list_objects_v2(Bucket=INBOUND_BUCKET).get("Contents", [])]


def originals(bucket: str, receipt: dict[str, Any]) -> list[dict[str, Any]]:
    prefix = f"users/{receipt['PK'].removeprefix('USER#')}/receipts/{receipt['receiptId']}/original/"
    s3 = boto3.client("s3")
    found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [s3.get_object(Bucket=bucket, Key=item["Key"]) | {"Key": item["Key"]} for item in found]


# -- the address ----------------------------------------------------------------------------------


def test_an_address_is_made_rotated_and_disabled_and_only_its_hash_is_stored(user_settings, table):
    first = enable(user_settings)
    second = enable(user_settings)
    local, _, domain = first.partition("@")
    assert domain == DOMAIN and local.startswith("r-") and len(local) == 28 and first != second
    stored = json.dumps(table.scan()["Items"], default=str)
    assert first.split("@")[0] not in stored and second.split("@")[0] not in stored
    assert user_settings.call("DELETE", "/user/inbound-address", user="user-a").status == 204
    assert user_settings.call("DELETE", "/user/inbound-address", user="user-a").status == 204  # none left: fine
    assert not [item for item in table.scan()["Items"] if item["PK"].startswith(keys.INBOUND_ADDRESS_PREFIX)]


def test_without_an_inbound_domain_the_address_routes_are_a_404(api_env, images_bucket, monkeypatch):
    monkeypatch.setenv("INBOUND_MAIL_DOMAIN", "")
    settings = ApiClient(load_function("user_settings"))
    assert_error_shape(settings.call("POST", "/user/inbound-address", user="user-a"), 404, "NOT_FOUND")


# -- receipts from messages -----------------------------------------------------------------------


def test_a_pdf_invoice_becomes_a_receipt_with_its_original_and_a_refinement_request(
    mail, user_settings, table, inbound_env
):
    address = enable(user_settings)
    assert deliver(mail, emails.pdf_invoice(recipient=address)) == ["delivered:1"]
    [receipt] = receipts_of(table)
    assert receipt["source"] == "email"
    assert receipt["email"]["sender"] == "receipts@acme.example"
    assert receipt["email"]["senderName"] == "Acme Store"
    assert receipt["email"]["subject"] == "Your Acme Store invoice – order 1042"
    assert (receipt["email"]["spf"], receipt["email"]["dkim"], receipt["email"]["dmarc"]) == ("pass", "pass", "pass")
    assert receipt["purchaseDate"] == "2026-11-14"  # the day it was sent, in the user's timezone
    [original] = originals(inbound_env["images"], receipt)
    assert original["Key"].endswith(".pdf") and original["Body"].read().startswith(b"%PDF-")
    assert original["ServerSideEncryption"] == "aws:kms" and original["ContentDisposition"] == "attachment"
    [request] = [json.loads(message["Body"]) for message in queued_messages(inbound_env["queue"])]
    assert request == {"userId": "user-a", "receiptId": receipt["receiptId"], "imageKey": original["Key"]}
    assert raw_objects() == []  # read once, then deleted


def test_an_html_only_receipt_keeps_its_sanitised_html_and_gives_its_visible_text(
    mail, user_settings, table, inbound_env
):
    address = enable(user_settings)
    assert deliver(mail, emails.html_ride_receipt(recipient=address)) == ["delivered:1"]
    [receipt] = receipts_of(table)
    [original] = originals(inbound_env["images"], receipt)
    html = original["Body"].read().decode()
    assert original["Key"].endswith(".html") and original["ContentType"].startswith("text/html")
    assert "<script" not in html.lower() and "https://" not in html.split("<body", 1)[-1].split("href=")[0]
    assert "<style" not in html.lower() and "onerror" not in html.lower()
    assert "23.40" in receipt["ocrRawText"]
    assert "Total" in receipt["ocrRawText"]
    for decoy in ("<", "function", "{"):
        assert decoy not in receipt["ocrRawText"]


def test_images_an_html_body_shows_inline_are_part_of_it_not_receipts_of_their_own(
    mail, user_settings, table, inbound_env
):
    address = enable(user_settings)
    assert deliver(mail, emails.inline_images(recipient=address)) == ["delivered:1"]
    [receipt] = receipts_of(table)
    [original] = originals(inbound_env["images"], receipt)
    body = original["Body"].read().decode().split("<body", 1)[1]
    assert body.count("data:image/") == 2 and "cid:" not in body  # both shown, nothing remote


def test_a_forwarded_receipt_is_found_inside_and_carries_the_shops_sender(mail, user_settings, table):
    address = enable(user_settings)
    assert deliver(mail, emails.forwarded(recipient=address)) == ["delivered:1"]
    [receipt] = receipts_of(table)
    assert receipt["email"]["sender"] == "receipts@acme.example"  # not the user who forwarded it


@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [
        ("spam_verdict", "discarded:spam"),
        ("oversized", "discarded:too-large"),
        ("zip_attachment", "discarded:no-receipt"),
        ("malformed_mime", "discarded:no-receipt"),
    ],
)
def test_what_is_no_receipt_is_discarded_whole_and_leaves_nothing(mail, user_settings, table, fixture, outcome):
    address = enable(user_settings)
    before = table.scan()["Items"]
    raw = getattr(emails, fixture)(recipient=address)
    assert deliver(mail, raw) == [outcome]
    assert receipts_of(table) == [] and raw_objects() == []
    assert not [item for item in table.scan()["Items"] if item["SK"].startswith(keys.INBOUND_MESSAGE_PREFIX)]
    assert len(table.scan()["Items"]) == len(before)


def test_a_virus_verdict_is_discarded(mail, user_settings, table):
    address = enable(user_settings)
    raw = emails.ses_headers(address, emails.DEFAULT_SENDER, virus="FAIL") + emails.pdf_invoice(
        recipient=address, ses_headers=False
    )
    assert deliver(mail, raw) == ["discarded:virus"]
    assert receipts_of(table) == []


def test_a_senders_own_copy_of_the_ses_headers_below_ses_s_is_never_read(mail, user_settings, table):
    """SES prepends its headers: a sender's forged PASS verdict or spf=pass below them counts not."""
    address = enable(user_settings)
    forged = b"X-SES-Spam-Verdict: PASS\r\nAuthentication-Results: amazonses.com; spf=pass; dkim=pass\r\n"
    body = emails.pdf_invoice(recipient=address, ses_headers=False)
    spam = emails.ses_headers(address, emails.DEFAULT_SENDER, spam="FAIL") + forged + body
    assert deliver(mail, spam) == ["discarded:spam"]
    unauthenticated = emails.ses_headers(address, emails.DEFAULT_SENDER, spf="fail", dkim="fail", dmarc="fail")
    assert deliver(mail, unauthenticated + forged + body) == ["delivered:1"]
    [receipt] = receipts_of(table)
    assert (receipt["email"]["spf"], receipt["email"]["dkim"]) == ("fail", "fail")


def test_a_zip_named_like_a_pdf_is_refused_by_its_bytes(mail, user_settings, table):
    address = enable(user_settings)
    raw = emails.zip_attachment(recipient=address).replace(b"application/zip", b"application/pdf")
    raw = raw.replace(b"receipt.zip", b"receipt.pdf")
    assert deliver(mail, raw) == ["discarded:no-receipt"]
    assert receipts_of(table) == []


# -- idempotency ----------------------------------------------------------------------------------


def test_a_redelivered_message_creates_nothing_new(mail, user_settings, table, inbound_env):
    address = enable(user_settings)
    raw = emails.pdf_invoice(recipient=address)
    assert deliver(mail, raw) == ["delivered:1"]
    queued = queued_messages(inbound_env["queue"])
    assert deliver(mail, raw) == ["already-delivered"]  # SES or S3 delivering twice: a new object
    assert len(receipts_of(table)) == 1
    assert queued_messages(inbound_env["queue"]) == [] and len(queued) == 1


def test_a_delivery_interrupted_half_way_is_finished_by_the_retry_without_a_duplicate(
    mail, user_settings, table, inbound_env
):
    address = enable(user_settings)
    raw = emails.pdf_invoice(recipient=address)
    gateway = mail.mailroom.gateway
    real = gateway.request_refinement
    calls = {"n": 0}

    def lost_once(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("SQS unreachable")  # transient: the event is retried
        real(*args)

    gateway.request_refinement = lost_once
    key = store_raw(raw)
    with pytest.raises(RuntimeError):
        mail.lambda_handler(s3_event(key, len(raw)), lambda_context())
    assert raw_objects() == [key]  # kept for the retry
    assert mail.lambda_handler(s3_event(key, len(raw)), lambda_context())["outcomes"] == ["delivered:1"]
    [receipt] = receipts_of(table)
    assert len(originals(inbound_env["images"], receipt)) == 1
    assert len(queued_messages(inbound_env["queue"])) == 1


def test_two_deliveries_of_one_message_at_once_create_one_receipt(mail, user_settings, table):
    address = enable(user_settings)
    raw = emails.pdf_invoice(recipient=address)
    keys_ = [store_raw(raw), store_raw(raw)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def receive(key: str) -> None:
        barrier.wait()
        try:
            mail.mailroom.receive(key, len(raw))  # the service: the handler's router state is shared
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=receive, args=(key,)) for key in keys_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(receipts_of(table)) == 1


# -- who receives ---------------------------------------------------------------------------------


def test_mail_to_an_unknown_a_rotated_or_a_disabled_address_is_discarded_without_a_trace(mail, user_settings, table):
    old = enable(user_settings)
    enable(user_settings)  # rotated: the old address is nobody's
    assert deliver(mail, emails.pdf_invoice(recipient=old)) == ["discarded:unknown-recipient"]
    guessed = f"r-{'a' * 26}@{DOMAIN}"
    assert deliver(mail, emails.pdf_invoice(recipient=guessed)) == ["discarded:unknown-recipient"]
    current = enable(user_settings)
    assert user_settings.call("DELETE", "/user/inbound-address", user="user-a").status == 204
    assert deliver(mail, emails.pdf_invoice(recipient=current)) == ["discarded:unknown-recipient"]
    assert receipts_of(table) == [] and raw_objects() == []


def test_the_envelope_recipient_decides_not_a_to_header_naming_another_users_address(mail, user_settings, table):
    mine = enable(user_settings, "user-a")
    theirs = enable(user_settings, "user-b")
    # SES's Received header names the envelope recipient (mine); the To line names theirs.
    raw = emails.ses_headers(mine, emails.DEFAULT_SENDER) + emails.pdf_invoice(recipient=theirs, ses_headers=False)
    assert deliver(mail, raw) == ["delivered:1"]
    assert len(receipts_of(table, "user-a")) == 1 and receipts_of(table, "user-b") == []


def test_an_address_is_read_case_insensitively_and_with_a_sub_address_tag(mail, user_settings, table):
    address = enable(user_settings)
    local, _, domain = address.partition("@")
    tagged = f"{local.upper()}+amazon@{domain.upper()}"
    assert deliver(mail, emails.pdf_invoice(recipient=tagged)) == ["delivered:1"]


def test_the_allow_list_takes_only_its_senders_and_only_authenticated(mail, user_settings, table):
    address = enable(user_settings)
    settings = {
        "reminderDaysBefore": [30],
        "weeklyDigestEnabled": False,
        "timezone": "UTC",
        "locale": "en",
        "inboundAllowedSenders": ["@Acme.example"],
        "serverVersion": 0,
    }
    saved = user_settings.call("PUT", "/user/settings", user="user-a", body=settings)
    assert saved.status == 200 and saved.body["inboundAllowedSenders"] == ["@acme.example"]
    ride = emails.html_ride_receipt(recipient=address)
    assert deliver(mail, ride) == ["discarded:sender-not-allowed"]
    spoofed = emails.ses_headers(address, emails.DEFAULT_SENDER, spf="fail", dkim="fail", dmarc="fail")
    assert deliver(mail, spoofed + emails.pdf_invoice(recipient=address, ses_headers=False)) == [
        "discarded:sender-not-authenticated"
    ]
    assert deliver(mail, emails.pdf_invoice(recipient=address)) == ["delivered:1"]


def test_a_bad_allow_list_entry_is_a_400_that_changes_nothing(user_settings):
    settings = {
        "reminderDaysBefore": [30],
        "weeklyDigestEnabled": False,
        "timezone": "UTC",
        "locale": "en",
        "inboundAllowedSenders": ["not an address"],
        "serverVersion": 0,
    }
    assert_error_shape(
        user_settings.call("PUT", "/user/settings", user="user-a", body=settings), 400, "VALIDATION_ERROR"
    )
    assert user_settings.call("GET", "/user/settings", user="user-a").body["serverVersion"] == 0


def test_past_the_daily_limit_messages_are_discarded(mail, user_settings, table, monkeypatch):
    address = enable(user_settings)
    mail.mailroom.quota.limit = 2
    outcomes = [
        deliver(mail, emails.pdf_invoice(recipient=address, message_id=f"<m{n}@acme.example>")) for n in range(3)
    ]
    assert outcomes == [["delivered:1"], ["delivered:1"], ["discarded:daily-limit"]]
    assert len(receipts_of(table)) == 2


def test_an_account_being_erased_receives_nothing(mail, user_settings, table):
    address = enable(user_settings)
    table.put_item(Item={**keys.erasure_key("user-a"), "status": "inProgress"})
    assert deliver(mail, emails.pdf_invoice(recipient=address)) == ["discarded:account-erasure"]
    assert receipts_of(table) == []


def test_a_receipt_the_user_deleted_is_not_revived_by_a_redelivery(mail, user_settings, table, inbound_env):
    address = enable(user_settings)
    raw = emails.pdf_invoice(recipient=address)
    deliver(mail, raw)
    [receipt] = receipts_of(table)
    # The delivery was interrupted before it was marked delivered, and the user deleted the receipt.
    message = next(item for item in table.scan()["Items"] if item["SK"].startswith(keys.INBOUND_MESSAGE_PREFIX))
    table.update_item(
        Key={"PK": message["PK"], "SK": message["SK"]},
        UpdateExpression="SET #s = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": "receiving"},
    )
    table.update_item(
        Key={"PK": receipt["PK"], "SK": receipt["SK"]},
        UpdateExpression="SET #s = :d, imageKeys = :n",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": "deleted", ":n": []},
    )
    queued_messages(inbound_env["queue"])
    assert deliver(mail, raw) == ["delivered:1"]
    assert queued_messages(inbound_env["queue"]) == []  # nothing re-sent for a deleted receipt


def test_a_transient_s3_failure_raises_so_the_event_is_retried(mail, user_settings):
    address = enable(user_settings)
    raw = emails.pdf_invoice(recipient=address)
    key = store_raw(raw)
    boto3.client("s3").delete_object(Bucket=INBOUND_BUCKET, Key=key)  # NoSuchKey: S3 not yet consistent
    with pytest.raises(Exception, match=r"NoSuchKey|Not Found|404"):
        mail.lambda_handler(s3_event(key, len(raw)), lambda_context())


def test_other_objects_in_the_bucket_are_ignored(mail):
    assert mail.lambda_handler(s3_event("AMAZON_SES_SETUP_NOTIFICATION", 10), lambda_context())["outcomes"] == [
        "ignored"
    ]


def test_an_attachment_with_the_right_first_bytes_but_a_corrupt_body_is_no_receipt(mail, user_settings, table):
    address = enable(user_settings)
    corrupt_png = b"\x89PNG\r\n\x1a\n" + b"junk" * 1000
    raw = emails.zip_attachment(recipient=address)
    raw = raw.replace(b"application/zip", b"image/png").replace(b"receipt.zip", b"receipt.png")
    start = raw.index(b"receipt.png")
    body_start = raw.index(b"\r\n\r\n", start) + 4
    body_end = raw.index(b"\r\n--", body_start)
    import base64

    raw = raw[:body_start] + base64.encodebytes(corrupt_png).replace(b"\n", b"\r\n") + raw[body_end:]
    assert deliver(mail, raw) == ["discarded:no-receipt"]
    assert receipts_of(table) == []
