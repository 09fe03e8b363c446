"""The captured events under events/ stay usable: replayed in order, each gives its expected status.

They are the same files a developer passes to `sam local invoke -e`.
"""

from __future__ import annotations

import json

import boto3
import pytest

from local.cfn_template import PROJECT_ROOT
from tests.conftest import load_function
from tests.support import cdn
from tests.support.api_events import lambda_context

EVENTS = PROJECT_ROOT / "events"

# The order matters: the receipt events share one receipt and follow its life.
API_SCENARIOS = {
    "receipt_crud": [
        ("create_receipt", 201),
        ("create_receipt", 200),  # idempotent retry
        ("create_receipt_invalid", 400),
        ("get_receipt", 200),
        ("get_receipt_of_another_user", 404),
        ("list_receipts", 200),
        ("list_receipts_by_category", 200),
        ("list_receipts_invalid_token", 400),
        ("update_receipt", 200),
        ("update_receipt_stale_version", 409),
        ("change_status_returned", 200),
        ("delete_receipt", 200),
        ("restore_receipt", 200),
    ],
    "receipt_crud_duplicates": [
        ("create_receipt", 201),
        ("create_duplicate_receipt", 201),  # the same purchase from another phone: flagged on both
        ("list_duplicate_pairs", 200),
        ("resolve_duplicate_pair", 200),  # merged
        ("resolve_duplicate_pair", 200),  # its retry, answered as the first
        ("resolve_duplicate_pair_of_another_user", 404),
    ],
    "category_handler": [
        ("get_categories", 200),
        ("put_categories", 200),
        ("put_categories_stale_version", 409),
        ("put_categories_duplicate", 400),
    ],
    "health": [("get_health", 200)],
    "receipt_crud_claims": [
        ("create_receipt", 201),
        ("open_claim", 201),
        ("open_claim", 200),  # its retry, with the same claimId
        ("change_claim", 200),  # repaired: the cover extended
        ("change_claim", 200),  # its retry: nothing to change
        ("change_claim_of_another_user", 404),
    ],
    "calendar_feed": [
        ("enable_calendar_feed", 201),
        ("enable_calendar_feed", 201),  # rotated
        ("get_calendar_feed_unknown_token", 404),  # a calendar app's poll carries no Cognito token
        ("revoke_calendar_feed", 204),
        ("revoke_calendar_feed", 204),  # nothing left to revoke
    ],
    "user_settings_inbound": [
        ("enable_inbound_address", 201),
        ("enable_inbound_address", 201),  # rotated
        ("disable_inbound_address", 204),
        ("disable_inbound_address", 204),  # nothing left to disable
    ],
}

# Scenarios of a function other than the one they are named after (a fresh table each).
FUNCTION_OF_SCENARIO = {
    "receipt_crud_duplicates": "receipt_crud",
    "receipt_crud_claims": "receipt_crud",
    "user_settings_inbound": "user_settings",
}


# The image path, in order: a receipt, upload URLs, uploads reaching the thumbnail generator,
# then a download. The S3 events name the dev stage's bucket and fixed keys under that receipt.
IMAGE_SCENARIO = [
    ("receipt_crud", "create_receipt", 201),
    ("presigned_url_generator", "upload_url", 200),
    ("presigned_url_generator", "upload_url_too_large", 400),
    ("presigned_url_generator", "upload_url_content_type_not_allowed", 400),
    ("thumbnail_generator", "s3_put_jpeg", "generated"),
    ("thumbnail_generator", "s3_put_heic", "generated"),
    ("thumbnail_generator", "s3_put_pdf", "generated"),
    ("thumbnail_generator", "s3_put_corrupt", "dropped:corrupt"),
    ("presigned_url_generator", "download_url", 200),
    ("presigned_url_generator", "download_url_of_another_user", 404),
]


# Sync after the receipt events: the device's base (version 1) is stale by then, so its edit merges.
SYNC_SCENARIO = [
    ("receipt_crud", "create_receipt", 201),
    ("receipt_crud", "update_receipt", 200),
    ("sync_handler", "pull_first_time", 200),
    ("sync_handler", "pull", 200),
    ("sync_handler", "push_with_conflicts", ["accepted", "merged", "rejected"]),
    ("sync_handler", "full", 200),
]


REFINE_SCENARIO = [
    ("receipt_crud", "create_receipt", 201),
    ("ocr_refine", "refine", 200),
    ("ocr_refine", "refine_with_ocr_text", 200),
]


# A device, settings, the scheduled runs (a returned dict means the run completed), then removal.
NOTIFICATION_SCENARIO = [
    ("user_settings", "register_device", 201),
    ("user_settings", "register_device", 200),  # the app registers at every launch
    ("user_settings", "get_settings", 200),
    ("user_settings", "put_settings", 200),
    ("user_settings", "put_settings_stale_version", 409),
    ("user_settings", "put_settings_invalid_timezone", 400),
    ("warranty_checker", "daily_schedule", "completed"),
    ("weekly_summary", "weekly_schedule", "completed"),
    ("user_settings", "remove_device", 204),
    ("user_settings", "remove_unknown_device", 404),
]
SCHEDULED = {"warranty_checker", "weekly_summary"}

# Data rights: an export requested, a bad range, an unknown export, a queued job whose record is
# gone (dropped, not retried), and the deletion's confirmation step.
GDPR_SCENARIO = [
    ("export_request", "request_export", 202),
    ("export_request", "request_export_invalid_range", 400),
    ("export_request", "export_status_unknown", 404),
    ("export_handler", "export_job", "no failures"),
    ("user_deletion", "issue_deletion_token", 200),
    ("user_deletion", "delete_account_without_token", 400),
    ("user_deletion", "delete_account_with_a_wrong_token", 403),
    ("user_deletion", "final_sweep_not_yet_due", "no failures"),  # back on the queue until it is
]
QUEUE_CONSUMERS = {"export_handler"}

# The table's stream: a receipt created, then a change of one that is gone (expired meanwhile).
DUPLICATE_CHECK_SCENARIO = [
    ("receipt_crud", "create_receipt", 201),
    ("duplicate_checker", "receipt_changed", {"batchItemFailures": []}),
]

# Receipts by e-mail: the S3 event of the message SES stored, then SES's own notification of the
# same message (a rule's Lambda action), which finds it delivered already.
INBOUND_SCENARIO = [
    ("inbound_mail", "s3_message_stored", ["delivered:1"]),
    ("inbound_mail", "ses_receipt_notification", ["already-delivered"]),
]


def test_every_captured_api_event_is_part_of_a_scenario():
    covered = {
        f"{FUNCTION_OF_SCENARIO.get(function, function)}/{case}.json"
        for function, cases in API_SCENARIOS.items()
        for case, _ in cases
    }
    scenarios = (
        IMAGE_SCENARIO
        + SYNC_SCENARIO
        + REFINE_SCENARIO
        + NOTIFICATION_SCENARIO
        + GDPR_SCENARIO
        + INBOUND_SCENARIO
        + DUPLICATE_CHECK_SCENARIO
    )
    covered |= {f"{function}/{case}.json" for function, case, _ in scenarios}
    on_disk = {
        str(path.relative_to(EVENTS))
        for path in EVENTS.glob("*/*.json")
        if "requestContext" in path.read_text()
        or '"Records"' in path.read_text()
        or path.parent.name in {"thumbnail_generator", *SCHEDULED, *QUEUE_CONSUMERS}
    }

    assert on_disk == covered


@pytest.mark.parametrize("function", sorted(API_SCENARIOS))
def test_captured_api_events_replay_with_their_expected_status(api_env, function, receipt_changes):
    directory = FUNCTION_OF_SCENARIO.get(function, function)
    module = load_function(directory)
    for case, expected in API_SCENARIOS[function]:
        receipt_changes.deliver()  # duplicate-checker has seen the changes so far
        event = json.loads((EVENTS / directory / f"{case}.json").read_text())
        response = module.lambda_handler(event, lambda_context())
        assert response["statusCode"] == expected, (case, response["body"])


def test_api_events_carry_cognito_claims_except_health():
    for path in EVENTS.glob("*/*.json"):
        event = json.loads(path.read_text())
        if "requestContext" not in event or path.parent.name == "health" or event["resource"].startswith("/calendar/"):
            continue
        claims = event["requestContext"]["authorizer"]["claims"]
        assert claims["token_use"] == "access" and claims["sub"], path


def test_captured_custom_resource_events_are_valid_requests():
    for path in (EVENTS / "platform_application").glob("*.json"):
        event = json.loads(path.read_text())
        assert event["RequestType"] in {"Create", "Update", "Delete"}
        assert {
            "ResponseURL",
            "StackId",
            "RequestId",
            "LogicalResourceId",
            "ResourceProperties",
        } <= event.keys()


def test_captured_image_events_replay_with_their_expected_outcome(api_env, images_bucket):
    from tests.support import images

    samples = {
        "s3_put_jpeg": images.jpeg(),
        "s3_put_heic": images.heic(),
        "s3_put_pdf": images.pdf(),
        "s3_put_corrupt": images.corrupt_jpeg(),
    }
    modules = {name: load_function(name) for name in {function for function, _, _ in IMAGE_SCENARIO}}
    s3 = boto3.client("s3")
    for function, case, expected in IMAGE_SCENARIO:
        event = json.loads((EVENTS / function / f"{case}.json").read_text())
        if function == "thumbnail_generator":  # put the sample at the event's bucket and key
            target = event["Records"][0]["s3"]
            if target["bucket"]["name"] not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                s3.create_bucket(
                    Bucket=target["bucket"]["name"], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
                )
            s3.put_object(Bucket=target["bucket"]["name"], Key=target["object"]["key"], Body=samples[case])
            outcome = modules[function].lambda_handler(event, lambda_context())["outcomes"]
            assert outcome == [expected], case
        else:
            response = modules[function].lambda_handler(event, lambda_context())
            assert response["statusCode"] == expected, (case, response["body"])


def test_captured_stream_events_replay_with_their_expected_outcome(api_env, table):
    modules = {name: load_function(name) for name in {function for function, _, _ in DUPLICATE_CHECK_SCENARIO}}
    for function, case, expected in DUPLICATE_CHECK_SCENARIO:
        event = json.loads((EVENTS / function / f"{case}.json").read_text())
        response = modules[function].lambda_handler(event, lambda_context())
        if function == "duplicate_checker":
            assert response == expected, case
        else:
            assert response["statusCode"] == expected, (case, response["body"])
    [created] = [item for item in table.scan()["Items"] if item["SK"].startswith("RECEIPT#")]
    assert created["duplicateFingerprints"]  # examined; the other record's receipt is gone: skipped


def test_captured_sync_events_replay_with_their_expected_outcome(api_env, monkeypatch):
    monkeypatch.setenv("MAX_BATCH_SIZE", "25")
    modules = {name: load_function(name) for name in {function for function, _, _ in SYNC_SCENARIO}}
    for function, case, expected in SYNC_SCENARIO:
        event = json.loads((EVENTS / function / f"{case}.json").read_text())
        response = modules[function].lambda_handler(event, lambda_context())
        if isinstance(expected, list):
            outcomes = [result["outcome"] for result in json.loads(response["body"])["results"]]
            assert outcomes == expected, case
        else:
            assert response["statusCode"] == expected, (case, response["body"])


def test_captured_refine_events_replay_with_their_expected_status(api_env, images_bucket, monkeypatch):
    from tests.support.bedrock import HAIKU, SONNET, ScriptedBedrock, extraction, tool_answer

    monkeypatch.setenv("BEDROCK_MODEL_ID", HAIKU)
    monkeypatch.setenv("BEDROCK_FALLBACK_MODEL_ID", SONNET)
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.70")
    monkeypatch.setenv("REFINE_DAILY_LIMIT", "200")
    modules = {name: load_function(name) for name in {function for function, _, _ in REFINE_SCENARIO}}
    modules["ocr_refine"].refinements.gateway.bedrock = ScriptedBedrock(haiku=[tool_answer(extraction())] * 2)
    for function, case, expected in REFINE_SCENARIO:
        event = json.loads((EVENTS / function / f"{case}.json").read_text())
        response = modules[function].lambda_handler(event, lambda_context())
        assert response["statusCode"] == expected, (case, response["body"])


def test_captured_notification_events_replay_with_their_expected_outcome(api_env, monkeypatch):
    from tests.support import push

    applications = push.platform_applications()
    monkeypatch.setenv("FCM_PLATFORM_APPLICATION_ARN", applications["android"])
    monkeypatch.setenv("APNS_PLATFORM_APPLICATION_ARN", applications["ios"])
    modules = {name: load_function(name) for name in {function for function, _, _ in NOTIFICATION_SCENARIO}}
    for function, case, expected in NOTIFICATION_SCENARIO:
        event = json.loads((EVENTS / function / f"{case}.json").read_text())
        response = modules[function].lambda_handler(event, lambda_context())
        if function in SCHEDULED:
            assert isinstance(response, dict) and "run" in response, (case, response)
        else:
            assert response["statusCode"] == expected, (case, response["body"])


def test_captured_gdpr_events_replay_with_their_expected_outcome(api_env, exports_bucket, monkeypatch):
    from tests.functions.conftest import make_queue

    monkeypatch.setenv("EXPORT_QUEUE_URL", make_queue("receiptvault-export-dev"))

    monkeypatch.setenv("EXPORT_MAX_IN_PROGRESS", "1")

    monkeypatch.setenv("EXPORT_DAILY_LIMIT", "10")
    monkeypatch.setenv("ACCOUNT_DELETION_QUEUE_URL", make_queue("receiptvault-account-deletion-dev"))
    monkeypatch.setenv("USER_POOL_ID", boto3.client("cognito-idp").create_user_pool(PoolName="p")["UserPool"]["Id"])
    monkeypatch.setenv("THUMBNAIL_DISTRIBUTION_ID", cdn.distribution())
    monkeypatch.setenv("FINAL_SWEEP_AFTER_SECONDS", "3900")
    modules = {name: load_function(name) for name in {function for function, _, _ in GDPR_SCENARIO}}
    for function, case, expected in GDPR_SCENARIO:
        event = json.loads((EVENTS / function / f"{case}.json").read_text())
        response = modules[function].lambda_handler(event, lambda_context())
        if expected == "no failures":
            assert response == {"batchItemFailures": []}, (case, response)
        else:
            assert response["statusCode"] == expected, (case, response["body"])


def test_captured_inbound_mail_events_replay_with_their_expected_outcome(api_env, images_bucket, monkeypatch):
    from tests.support import emails
    from tests.support.api_events import api_event

    stored = json.loads((EVENTS / "inbound_mail" / "s3_message_stored.json").read_text())["Records"][0]["s3"]
    bucket, key = stored["bucket"]["name"], stored["object"]["key"]
    boto3.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    queue = boto3.client("sqs").create_queue(QueueName="receiptvault-refinement-dev")["QueueUrl"]
    for name, value in {"INBOUND_BUCKET": bucket, "REFINEMENT_QUEUE_URL": queue, "MAX_MESSAGE_SIZE": "10485760",
                        "INBOUND_DAILY_LIMIT": "100"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    settings = load_function("user_settings")
    enabled = settings.lambda_handler(api_event("POST", "/user/inbound-address", user="user-a"), lambda_context())
    address = json.loads(enabled["body"])["address"]
    raw = emails.pdf_invoice(recipient=address)
    mail = load_function("inbound_mail")
    for _, case, expected in INBOUND_SCENARIO:
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=raw)  # as SES stores it (again)
        event = json.loads((EVENTS / "inbound_mail" / f"{case}.json").read_text())
        assert mail.lambda_handler(event, lambda_context())["outcomes"] == expected, case
