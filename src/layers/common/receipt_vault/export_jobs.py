"""Export jobs: `USER#{sub}` / `EXPORT#{exportId}`, from request to a downloadable ZIP.

pending -> running -> ready, or failed. A worker claims a job (pending, or running with an
expired lease) before building, so a redelivered message never builds an export twice, and a
ready job is never rebuilt. The item expires through TTL with the ZIP (7 days).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import DynamoTable, conditional_put, conditional_update

PENDING, RUNNING, READY, FAILED = "pending", "running", "ready", "failed"
EXPORT_RETENTION = dt.timedelta(days=7)  # the exports bucket's lifecycle
DOWNLOAD_URL_LIFETIME = dt.timedelta(hours=24)
# Longer than the export handler's 300 s timeout: a live build is never taken over.
BUILD_LEASE = dt.timedelta(minutes=6)


def job_view(item: dict[str, Any]) -> dict[str, Any]:
    """What GET /user/export/{exportId} returns (the download URL is added by the caller)."""
    view = {"exportId": item["exportId"], "status": item["status"], "createdAt": item["createdAt"]}
    for name in ("from", "to", "receiptCount", "imageCount", "sizeBytes", "completedAt", "expiresAt", "failureReason"):
        if item.get(name) is not None:
            view[name] = int(item[name]) if name in ("receiptCount", "imageCount", "sizeBytes") else item[name]
    return view


class ExportJobs:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def get(self, user_id: str, export_id: str) -> dict[str, Any] | None:
        return self.table.get_item(keys.export_key(user_id, export_id))

    def active(self, user_id: str) -> list[dict[str, Any]]:
        """The user's pending or running exports."""
        condition = Key("PK").eq(keys.user_pk(user_id)) & Key("SK").begins_with(keys.EXPORT_PREFIX)
        return list(self.table.query_all(None, condition, Attr("status").is_in([PENDING, RUNNING])))

    def create(self, user_id: str, date_from: str | None, date_to: str | None, moment: dt.datetime) -> dict[str, Any]:
        export_id = str(uuid.uuid4())
        item = {
            **keys.export_key(user_id, export_id),
            "exportId": export_id,
            "status": PENDING,
            "createdAt": iso_timestamp(moment),
            "from": date_from,
            "to": date_to,
            "ttl": int((moment + EXPORT_RETENTION).timestamp()),
        }
        item = {name: value for name, value in item.items() if value is not None}
        conditional_put(self.table, item, Attr("PK").not_exists())
        return item

    def claim(self, user_id: str, export_id: str, moment: dt.datetime) -> tuple[str | None, dict[str, Any] | None]:
        """(claim id, job) when this worker may build it; (None, job) when it is built or being
        built; (None, None) when the job is gone (expired, or the account was deleted)."""
        claim_id = str(uuid.uuid4())
        now = iso_timestamp(moment)
        result = conditional_update(
            self.table,
            keys.export_key(user_id, export_id),
            {"status": RUNNING, "claimId": claim_id, "leaseUntil": iso_timestamp(moment + BUILD_LEASE)},
            ["failureReason"],
            Attr("PK").exists()
            & (Attr("status").eq(PENDING) | (Attr("status").eq(RUNNING) & Attr("leaseUntil").lt(now))),
        )
        return (claim_id, result.item) if result.succeeded else (None, result.item)

    def complete(self, user_id: str, export_id: str, claim_id: str, facts: dict[str, Any], moment: dt.datetime) -> bool:
        """Mark the job ready; False if it was taken away meanwhile (the account is being deleted)."""
        values = {
            **facts,
            "status": READY,
            "completedAt": iso_timestamp(moment),
            "expiresAt": iso_timestamp(moment + EXPORT_RETENTION),
            "ttl": int((moment + EXPORT_RETENTION).timestamp()),
        }
        return self._finish(user_id, export_id, claim_id, values)

    def give_back(self, user_id: str, export_id: str, claim_id: str, reason: str, final: bool) -> bool:
        """A build failed: pending again for the next delivery, or failed for good with a reason."""
        values = {"status": FAILED if final else PENDING, "failureReason": reason}
        return self._finish(user_id, export_id, claim_id, values)

    def _finish(self, user_id: str, export_id: str, claim_id: str, values: dict[str, Any]) -> bool:
        return conditional_update(
            self.table,
            keys.export_key(user_id, export_id),
            values,
            ["claimId", "leaseUntil"],
            Attr("claimId").eq(claim_id) & Attr("status").eq(RUNNING),
        ).succeeded
