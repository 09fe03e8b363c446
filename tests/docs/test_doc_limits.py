"""The numbers the documentation states, each against the one place that decides it.

A guide restates a limit only where a reader needs it (an app developer sizing a push, an
operator reading an alarm). Each phrase below is built from the code, the template or the
contract, so changing the number there fails here until the guide says the new one.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from export_handler import export_builder, export_gateway
from local.cfn_template import OPENAPI_PATH, load_template, load_yaml, resources_of_type
from ocr_refine import refine_service, refinement
from receipt_vault import api, categories, export_jobs, images, notification_ledger, user_settings
from receipt_vault.receipts import content, rules
from sync_handler import models as sync_models
from sync_handler import sync_service
from tests.docs.markdown_doc import DOCS, README, code_spans, section, table_rows
from user_deletion import deletion_tokens
from user_settings import devices
from warranty_checker import checker

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
OPENAPI = load_yaml(OPENAPI_PATH)
SCHEMAS = OPENAPI["components"]["schemas"]
MIB = 1024 * 1024
WORDS = {3: "third", 5: "five"}


def _prose(path: Path) -> str:
    """The document with every run of whitespace one space, so a phrase may wrap anywhere."""
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


def _seconds(duration: dt.timedelta) -> int:
    return int(duration.total_seconds())


def _properties(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id]["Properties"]


def _variable(function: str, name: str) -> str:
    return _properties(function)["Environment"]["Variables"][name]


def _schedule_hour(function: str) -> int:
    (event,) = _properties(function)["Events"].values()
    return int(event["Properties"]["Schedule"].removeprefix("cron(").split()[1])


def _list_limit() -> dict[str, Any]:
    parameters = OPENAPI["paths"]["/receipts"]["get"]["parameters"]
    return next(parameter for parameter in parameters if parameter["name"] == "limit")["schema"]


PUSH_ITEMS = SCHEMAS["SyncPushRequest"]["properties"]["items"]["maxItems"]
THROTTLE = _properties("ReceiptVaultApi")["MethodSettings"][0]
CLIENT = next(iter(resources_of_type(TEMPLATE, "AWS::Cognito::UserPoolClient").values()))["Properties"]
SWEEP_SECONDS = int(_variable("UserDeletionFunction", "FINAL_SWEEP_AFTER_SECONDS"))
EXPORT_EVENT = next(iter(_properties("ExportHandlerFunction")["Events"].values()))["Properties"]
(EXPORTS_EXPIRY,) = [
    rule["ExpirationInDays"]
    for rule in _properties("ExportsBucket")["LifecycleConfiguration"]["Rules"]
    if "ExpirationInDays" in rule
]


def _alarm_threshold(logical_id: str) -> float:
    return float(_properties(logical_id)["Threshold"])


STATED = {
    "sync.md": [
        f"up to {PUSH_ITEMS} offline mutations",
        f"a push holds at most {PUSH_ITEMS} items",
        f"(1–{sync_models.MAX_MUTATION_ID_LENGTH} printable ASCII characters",
        f"the ids of its last {rules.MAX_RECORDED_MUTATIONS} changes",
        f"its own start minus {_seconds(sync_service.SYNC_SAFETY_MARGIN)} s",
        f"older than the {sync_service.TOMBSTONE_WINDOW.days}-day tombstone window",
        f"kept changing ({sync_service.MAX_WRITE_ATTEMPTS} attempts)",
        f"(at most {sync_service.MAX_WRITE_ATTEMPTS} times)",
        f"at most {content.MAX_RECEIPT_BYTES // 1024} KiB of UTF-8 JSON",
        f"a request body at most {api.MAX_REQUEST_BODY_BYTES // MIB} MiB (413)",
        f"stops early at {sync_service.RESPONSE_BUDGET_BYTES // MIB} MiB",
        f"push results past {sync_service.RESPONSE_BUDGET_BYTES // MIB} MiB",
    ],
    "api.md": [
        f"`limit` ({_list_limit()['minimum']}–{_list_limit()['maximum']})",
        f"a body over {api.MAX_REQUEST_BODY_BYTES // MIB} MiB, a receipt over {content.MAX_RECEIPT_BYTES // 1024} KiB",
        f"sets its TTL to {rules.SOFT_DELETE_RETENTION.days} days",
        f"at most {categories.MAX_CUSTOM_CATEGORIES}, unique ignoring case",
        f"at most {SCHEMAS['UploadUrlRequest']['properties']['contentLength']['maximum'] // MIB} MiB (400)",
        f"A receipt holds at most {images.MAX_IMAGES_PER_RECEIPT} images",
        f"valid {int(_variable('PresignedUrlGeneratorFunction', 'URL_EXPIRY_SECONDS')) // 60} minutes",
        f"capped at {refinement.MAX_OCR_CHARACTERS:,} characters",
        f"at most {refine_service.MAX_IMAGE_EDGE} px on its long edge",
        f"`CONFIDENCE_THRESHOLD` ({_variable('OcrRefineFunction', 'CONFIDENCE_THRESHOLD')})",
        f"only with {refine_service.MIN_SECONDS_FOR_FALLBACK:g} s of the budget left",
        f"{{{', '.join(map(str, user_settings.ALLOWED_REMINDER_OFFSETS))}}}, unique",
        f"Defaults: `[{', '.join(map(str, user_settings.DEFAULT_REMINDER_OFFSETS))}]`, digest off, "
        f"`{user_settings.DEFAULT_TIMEZONE}`, `{user_settings.DEFAULT_LOCALE}`",
        f"At most {devices.MAX_DEVICES} devices",
        f"{THROTTLE['ThrottlingRateLimit']} requests per second with a burst of {THROTTLE['ThrottlingBurstLimit']}",
        f"frees itself after {_seconds(export_jobs.SLOT_LEASE) // 3600} hours",
        f"daily at {_schedule_hour('WarrantyCheckerFunction'):02d}:00 UTC, reserved concurrency "
        f"{_properties('WarrantyCheckerFunction')['ReservedConcurrentExecutions']}",
        f"Mondays at {_schedule_hour('WeeklySummaryFunction'):02d}:00 UTC",
        f"expires after a {_seconds(notification_ledger.CLAIM_LEASE) // 60}-minute lease",
        f"stopped {checker.TIME_MARGIN_SECONDS:g} s before its timeout",
    ],
    "data-rights.md": [
        f"valid {_seconds(export_jobs.DOWNLOAD_URL_LIFETIME) // 3600} hours at most and never past the ZIP's "
        f"{export_jobs.EXPORT_RETENTION.days} days",
        f"`EXPORT#{{id}}`, TTL {export_jobs.EXPORT_RETENTION.days} days",
        f"batch size {EXPORT_EVENT['BatchSize']}, reserved concurrency "
        f"{_properties('ExportHandlerFunction')['ReservedConcurrentExecutions']}",
        f"({export_gateway.PART_SIZE // MIB} MiB parts",
        f"images copied in {export_builder.CHUNK_SIZE // MIB} MiB chunks",
        f"the {WORDS[_properties('ExportQueue')['RedrivePolicy']['maxReceiveCount']]} marks it `failed`",
        f"`{{deletionToken, expiresAt, expiresIn: {_seconds(deletion_tokens.TOKEN_LIFETIME)}}}`",
        f"valid {_seconds(deletion_tokens.TOKEN_LIFETIME) // 60} minutes",
        f"the queue retries {WORDS[_properties('AccountDeletionQueue')['RedrivePolicy']['maxReceiveCount']]} times",
        f"the app client's {CLIENT['AccessTokenValidity']} hour, plus "
        f"{(SWEEP_SECONDS - CLIENT['AccessTokenValidity'] * 3600) // 60} minutes",
    ],
    "operations.md": [
        f"over {_alarm_threshold('HighLambdaErrorRateAlarm'):g}% of invocations failed",
        f"over {_alarm_threshold('Api5xxAlarm') * 100:g}% of API requests answered 5xx",
        f"met more than {_alarm_threshold('SyncFailuresAlarm'):g} conflicts",
        f"p99 of a model call above {_alarm_threshold('HighLatencyOcrAlarm') / 1000:g} s",
        "reserved concurrency (warranty checker and weekly summary "
        f"{_properties('WarrantyCheckerFunction')['ReservedConcurrentExecutions']}, export handler "
        f"{_properties('ExportHandlerFunction')['ReservedConcurrentExecutions']})",
    ],
}
README_STATED = [
    f"one table, {len(_properties('ReceiptVaultTable')['GlobalSecondaryIndexes'])} GSIs",
    f"S3 exports<br/>{EXPORTS_EXPIRY}-day expiry",
]


@pytest.mark.parametrize(
    ("document", "phrase"),
    [(document, phrase) for document, phrases in STATED.items() for phrase in phrases],
)
def test_a_stated_number_is_the_one_that_decides(document, phrase):
    assert phrase in _prose(DOCS / document)


@pytest.mark.parametrize("phrase", README_STATED)
def test_a_number_in_the_readme_is_the_one_that_decides(phrase):
    assert phrase in _prose(README)


def test_the_fair_use_table_gives_each_parameters_default():
    rows = table_rows(section((DOCS / "api.md").read_text(encoding="utf-8"), "Rate limits and fair use"))
    for row in rows:
        name, default = re.fullmatch(r"`(\w+)` \((\d+)\).*", row[1]).groups()
        assert TEMPLATE["Parameters"][name]["Default"] == int(default), name
    assert {code_spans(row[1])[0] for row in rows} == {
        name for name in TEMPLATE["Parameters"] if name.endswith(("PerUser", "PerDay", "PerSession"))
    }
