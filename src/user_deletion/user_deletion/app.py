"""user-deletion: POST /user/account/deletion-token, then DELETE /user/account (GDPR erasure).

The same function consumes the account-deletion queue. Two messages are sent before the
erasure starts: a safety net after 60 s, which finishes it if this invocation could not, and
the final sweep, due once every token issued before the erasure has expired, which re-runs
every data step whatever the job says. SQS delays a message 15 minutes at most, so the sweep
comes back, delayed again, until it is due.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from aws_lambda_powertools.utilities.typing import LambdaContext

from receipt_vault import init_phase
from receipt_vault.api import build_api, current_user_id, current_username, make_lambda_handler, to_json
from receipt_vault.batches import PartialBatchResponse, partial_batch_response, sqs_message_id
from receipt_vault.clients import lazy_client
from receipt_vault.clock import iso_timestamp, utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.errors import BadRequestError, ForbiddenError
from receipt_vault.observability import hash_user_id, setup_observability
from receipt_vault.rest import Response
from receipt_vault.settings import UserDeletionSettings, load_settings
from receipt_vault.settings_store import SettingsStore
from receipt_vault.shapes import JsonObject
from user_deletion.account_eraser import AccountEraser, Erasure
from user_deletion.deletion_tokens import DeletionToken, DeletionTokens
from user_deletion.erasure_gateway import ErasureGateway
from user_deletion.erasure_store import COMPLETED, ErasureStore

settings = load_settings(UserDeletionSettings)
observability = setup_observability()
logger = observability.logger
app = build_api(settings, observability)
table = dynamodb_table(settings.table_name)
tokens = DeletionTokens(table)
# The clients are created on first use: issuing a token, the common call, needs none of them.
eraser = AccountEraser(
    ErasureStore(table),
    SettingsStore(table),
    ErasureGateway(
        lazy_client("cognito-idp", settings.region),
        lazy_client("s3", settings.region),
        lazy_client("sns", settings.region),
        lazy_client("cloudfront", settings.region),
        settings.user_pool_id,
        settings.s3_bucket,
        settings.export_bucket,
        settings.thumbnail_distribution_id,
        settings.inbound_bucket,
    ),
    utc_now,
    logger,
)
sqs = lazy_client("sqs", settings.region)
SAFETY_NET_DELAY_SECONDS = 60  # after the request's own attempt has had its chance
MAX_SQS_DELAY_SECONDS = 900
RERUN, FINAL_SWEEP = "rerun", "finalSweep"
API_GATEWAY_BUDGET_SECONDS = 27.0  # API Gateway answers 504 after 29 s
TOKEN_HEADER = "x-deletion-token"  # noqa: S105 - a header name


@app.post("/user/account/deletion-token")
def issue_deletion_token() -> DeletionToken:
    return tokens.issue(current_user_id(app), utc_now())


@app.delete("/user/account")
def delete_account() -> Response[str]:
    """The first request needs the deletion token. Once the erasure has started, the account's
    tokens reach nothing else, and a repeated request sweeps every data step again."""
    user_id = current_user_id(app)
    context = app.lambda_context
    budget = min(API_GATEWAY_BUDGET_SECONDS, context.get_remaining_time_in_millis() / 1000)
    started = utc_now()

    def seconds_left() -> float:
        return budget - (utc_now() - started).total_seconds()

    if eraser.job(user_id) is not None:
        return _erasure_response(lambda: eraser.sweep(user_id, seconds_left), user_id)
    token = app.current_event.headers.get(TOKEN_HEADER)  # the name's case does not matter
    if not token:
        raise BadRequestError("the X-Deletion-Token header is required; POST /user/account/deletion-token first")
    if not tokens.consume(user_id, token, utc_now()):
        raise ForbiddenError("the deletion token is invalid, used or expired; request a new one")
    eraser.start(user_id, current_username(app))
    enqueue(user_id, RERUN, started, SAFETY_NET_DELAY_SECONDS)
    final_sweep_due = started + dt.timedelta(seconds=settings.final_sweep_after_seconds)
    enqueue(user_id, FINAL_SWEEP, final_sweep_due, MAX_SQS_DELAY_SECONDS)
    return _erasure_response(lambda: eraser.erase(user_id, seconds_left), user_id)


def _erasure_response(run: Callable[[], Erasure], user_id: str) -> Response[str]:
    try:
        erasure = run()
        body = {"status": erasure.status, "counts": erasure.counts}
    except Exception:  # the queued rerun finishes it; the user must not retry with a dead account
        logger.exception("erasure interrupted; the queue will finish it", extra={"user_hash": hash_user_id(user_id)})
        body = {"status": "inProgress", "counts": {}}
    return Response(status_code=202, content_type="application/json", body=to_json(body))


def enqueue(user_id: str, kind: str, due: dt.datetime, delay_seconds: int) -> None:
    sqs.send_message(
        QueueUrl=settings.account_deletion_queue_url,
        MessageBody=json.dumps({"userId": user_id, "kind": kind, "due": iso_timestamp(due)}),
        DelaySeconds=max(0, min(delay_seconds, MAX_SQS_DELAY_SECONDS)),
    )


api_handler = make_lambda_handler(
    app, observability, table_name=settings.table_name, open_to_erased=frozenset({"DELETE /user/account"})
)


def lambda_handler(event: JsonObject, context: LambdaContext) -> JsonObject | PartialBatchResponse:
    """API Gateway requests, or the account-deletion queue's messages."""
    if "Records" in event:
        return _erase_queued(event, context)
    return api_handler(event, context)


@logger.inject_lambda_context(clear_state=True)
def _erase_queued(event: JsonObject, context: LambdaContext) -> PartialBatchResponse:
    response = partial_batch_response(
        event["Records"], lambda record: _erase_message(record, context), sqs_message_id, logger
    )
    failures = response["batchItemFailures"]
    if failures:  # the function's Errors metric drives the UserDeletionFailure alarm
        raise RuntimeError(f"{len(failures)} account erasures failed")
    return response


def _erase_message(record: JsonObject, lambda_context: LambdaContext) -> None:
    try:
        message = json.loads(record["body"])
        user_id = message["userId"]
    except (ValueError, KeyError, TypeError):
        logger.error("unreadable deletion message dropped", extra={"message_id": record["messageId"]})
        return
    try:
        _handle(user_id, message, lambda_context)
    except Exception:
        logger.exception("erasure failed; it will be retried", extra={"user_hash": hash_user_id(user_id)})
        raise


def _handle(user_id: str, message: JsonObject, context: LambdaContext) -> None:
    def seconds_left() -> float:
        return context.get_remaining_time_in_millis() / 1000

    if message.get("kind") == FINAL_SWEEP:
        due = dt.datetime.fromisoformat(str(message["due"]).replace("Z", "+00:00"))
        waiting = (due - utc_now()).total_seconds()
        if waiting > 0:  # not yet: back on the queue, for at most SQS's longest delay
            enqueue(user_id, FINAL_SWEEP, due, int(waiting) + 1)
            return
        if eraser.sweep(user_id, seconds_left, final=True).status != COMPLETED:
            raise TimeoutError("ran out of time; the message comes back")
        return
    if (eraser.job(user_id) or {}).get("status") == COMPLETED:
        return
    if eraser.erase(user_id, seconds_left).status != COMPLETED:
        raise TimeoutError("ran out of time; the message comes back")


init_phase.end()  # init is over: what it made is frozen, collecting resumes
