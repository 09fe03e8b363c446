"""inbound-mail: each raw message SES stores under inbound/ becomes receipts (mailroom.py)."""

from __future__ import annotations

from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from inbound_mail.inbound_store import InboundStore
from inbound_mail.mail_gateway import MailGateway
from inbound_mail.mailroom import Mailroom, MailroomConfig
from inbound_mail.message_parser import Limits
from receipt_vault import init_phase
from receipt_vault.clients import lazy_client
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.inbound_addresses import new_local_part
from receipt_vault.observability import setup_observability
from receipt_vault.quotas import DailyQuota
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.secret_links import INBOUND_ADDRESS, SecretLinks, SecretLinkStore
from receipt_vault.settings import InboundMailSettings, load_settings
from receipt_vault.shapes import JsonObject

METRIC_NAMESPACE = "ReceiptVault/Inbound"
RAW_MAIL_PREFIX = "inbound/"

settings = load_settings(InboundMailSettings)
logger, tracer, metrics = setup_observability()
table = dynamodb_table(settings.table_name)


def _count(name: str, reason: str) -> None:
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=METRIC_NAMESPACE) as metric:
        metric.add_dimension(name="Reason", value=reason)


mailroom = Mailroom(
    MailGateway(
        lazy_client("s3", settings.region),
        lazy_client("sqs", settings.region),
        settings.inbound_bucket,
        settings.s3_bucket,
        settings.kms_key_id,
        settings.refinement_queue_url,
    ),
    InboundStore(table),
    ReceiptStore(table),
    SecretLinks(SecretLinkStore(table, INBOUND_ADDRESS), new_local_part),
    DailyQuota(table, "INBOUND", settings.inbound_daily_limit),
    MailroomConfig(
        settings.inbound_mail_domain, settings.max_message_size, Limits(max_file_size=settings.max_file_size)
    ),
    utc_now,
    _count,
)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: JsonObject, context: LambdaContext) -> dict[str, list[str]]:
    outcomes: list[str] = []
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:ses":
            # A receipt rule's Lambda action after its S3 action: the message is the object SES
            # stored under its own message id (the size is read from the object itself).
            key, size = RAW_MAIL_PREFIX + str(record["ses"]["mail"]["messageId"]), 0
        else:
            key = unquote_plus(record["s3"]["object"]["key"])  # S3 events URL-encode keys, "+" for spaces
            size = int(record["s3"]["object"].get("size", 0))
        if not key.startswith(RAW_MAIL_PREFIX) or "/" in key.removeprefix(RAW_MAIL_PREFIX):
            outcomes.append("ignored")
            continue
        outcomes.extend(mailroom.receive(key, size))
    logger.info("messages received", extra={"outcomes": outcomes})
    return {"outcomes": outcomes}


init_phase.end()  # init is over: what it made is frozen, collecting resumes
