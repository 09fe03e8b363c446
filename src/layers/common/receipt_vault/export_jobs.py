"""Export jobs: `USER#{sub}` / `EXPORT#{exportId}`, from request to a downloadable ZIP.

pending -> running -> ready, or failed. A worker claims a job (pending, or running with an
expired lease) before building, so a redelivered message never builds an export twice, and a
ready job is never rebuilt. The item expires through TTL with the ZIP (7 days).

Fair use: a user has `max_in_progress` export slots (`EXPORTSLOT#{n}`) and a daily quota.
Creating a job is one transaction: a free slot (free, or held past SLOT_LEASE by a job that
never finished), one unit of the day's quota, and the job item. Two requests at once can
never both take the last slot or the last unit. With every slot held, the request returns
the export in progress, whatever its range; past the quota it is a 429. A job that ends,
ready or failed, frees its slot.
"""

from __future__ import annotations

import datetime as dt
import uuid

from boto3.dynamodb.conditions import Attr

from receipt_vault import keys, quotas
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import DynamoTable, TransactPut, conditional_delete, conditional_update
from receipt_vault.errors import RateLimitedError
from receipt_vault.shapes import DynamoItem, JsonObject

PENDING, RUNNING, READY, FAILED = "pending", "running", "ready", "failed"
EXPORT_RETENTION = dt.timedelta(days=7)  # the exports bucket's lifecycle
DOWNLOAD_URL_LIFETIME = dt.timedelta(hours=24)
# Longer than the export handler's 300 s timeout: a live build is never taken over.
BUILD_LEASE = dt.timedelta(minutes=6)
# Longer than the queue takes to give up on a job (3 receives, 30 minutes' visibility each).
SLOT_LEASE = dt.timedelta(hours=2)
EXPORT_QUOTA = "EXPORT"


def job_view(item: DynamoItem) -> JsonObject:
    """What GET /user/export/{exportId} returns (the download URL is added by the caller)."""
    view = {"exportId": item["exportId"], "status": item["status"], "createdAt": item["createdAt"]}
    for name in ("from", "to", "receiptCount", "imageCount", "sizeBytes", "completedAt", "expiresAt", "failureReason"):
        if item.get(name) is not None:
            view[name] = int(item[name]) if name in ("receiptCount", "imageCount", "sizeBytes") else item[name]
    return view


class ExportJobs:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def get(self, user_id: str, export_id: str) -> DynamoItem | None:
        return self.table.get_item(keys.export_key(user_id, export_id))

    def create(
        self,
        user_id: str,
        date_from: str | None,
        date_to: str | None,
        moment: dt.datetime,
        max_in_progress: int = 1,
        daily_limit: int = 10,
    ) -> tuple[DynamoItem, bool]:
        """(job, created): a new pending job in a free slot, or the user's export in progress
        when every slot is held. RateLimitedError past the daily quota."""
        export_id = str(uuid.uuid4())
        now = iso_timestamp(moment)
        in_progress: DynamoItem | None = None
        for slot in range(max_in_progress):
            job = {
                **keys.export_key(user_id, export_id),
                "exportId": export_id,
                "status": PENDING,
                "createdAt": now,
                "from": date_from,
                "to": date_to,
                "slot": slot,
                "ttl": int((moment + EXPORT_RETENTION).timestamp()),
            }
            job = {name: value for name, value in job.items() if value is not None}
            holder = {
                **keys.export_slot_key(user_id, slot),
                "exportId": export_id,
                "until": iso_timestamp(moment + SLOT_LEASE),
            }
            result = self.table.transact_write(
                [
                    TransactPut(holder, Attr("PK").not_exists() | Attr("until").lt(now)),
                    quotas.taking_one(user_id, EXPORT_QUOTA, daily_limit, moment),
                    TransactPut(job, Attr("PK").not_exists()),
                ]
            )
            if result.succeeded:
                return job, True
            if 1 in result.failed:
                raise quotas.refused("export", daily_limit, moment)
            held = result.failed.get(0) or {}
            in_progress = in_progress or self.get(user_id, str(held.get("exportId", "")))
        if in_progress is None:  # every slot held, by jobs gone since: their leases free them
            raise RateLimitedError("an export is on its way; try again later", retry_after=60)
        return in_progress, False

    def withdraw(self, user_id: str, job: DynamoItem) -> None:
        """Undo a creation whose message could not be queued: no job, and its slot free."""
        self.table.delete_item(keys.export_key(user_id, job["exportId"]))
        self.free_slot(user_id, job)

    def free_slot(self, user_id: str, job: DynamoItem) -> None:
        """The job has ended: its slot is free for the next export."""
        if "slot" in job:
            conditional_delete(
                self.table, keys.export_slot_key(user_id, int(job["slot"])), Attr("exportId").eq(job["exportId"])
            )

    def claim(self, user_id: str, export_id: str, moment: dt.datetime) -> tuple[str | None, DynamoItem | None]:
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

    def complete(self, user_id: str, export_id: str, claim_id: str, facts: DynamoItem, moment: dt.datetime) -> bool:
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

    def _finish(self, user_id: str, export_id: str, claim_id: str, values: DynamoItem) -> bool:
        result = conditional_update(
            self.table,
            keys.export_key(user_id, export_id),
            values,
            ["claimId", "leaseUntil"],
            Attr("claimId").eq(claim_id) & Attr("status").eq(RUNNING),
        )
        if result.succeeded and values["status"] in (READY, FAILED):
            self.free_slot(user_id, result.item or {})
        return result.succeeded
