"""GDPR erasure: every trace of a user, in the spec's order, resumable after a crash at any step.

    cognito     AdminDeleteUser: no sign-in, no new tokens, from the first moment
    table       every item under USER#{sub}: receipts, categories, settings, ledger, exports
    images      every object version and delete marker under users/{sub}/ (a versioned bucket)
    exports     the ZIPs under exports/{sub}/, and any multipart upload in flight
    endpoints   the SNS endpoints of the user's devices
    cdn         a CloudFront invalidation of /users/{sub}/*, so no cached thumbnail outlives it
    audit       one log line: the hashed user id and the counts, nothing personal

The job item (`DELETION#{sha256(sub)}` / `JOB`) lives outside the user's partition, which the
table step empties. Its existence is what refuses every later request of the account
(receipt_vault/erasure.py). It records which steps are done and their counts, and it
snapshots what later steps need before the data that holds it is gone: the Cognito username
(removed once the user is deleted) and the device endpoints. Every step is idempotent, so a
rerun, by the queue's delayed safety-net message or a retry, finishes the job whatever step
crashed.

A sweep (a repeated DELETE, and the final sweep after the longest token lifetime) re-runs
every data step, whatever the job says, and counts afresh: it finds what a request already in
flight when the erasure began may have written.

The table is erasure_store.py's; every other service is erasure_gateway.py's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.images import user_prefix
from receipt_vault.observability import hash_user_id
from receipt_vault.settings_store import SettingsStore
from receipt_vault.shapes import DynamoItem
from user_deletion.erasure_gateway import ErasureGateway
from user_deletion.erasure_store import COMPLETED, IN_PROGRESS, ErasureStore

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

# "inbound" before "table": the raw mail still to read is named by the user's INBOUND# items.
STEPS = ("cognito", "inbound", "table", "images", "exports", "endpoints", "cdn")
DATA_STEPS = STEPS[1:]  # what a sweep re-runs: everything but the Cognito user, gone for good
JOB_RETENTION = dt.timedelta(days=30)
# A step starts only with this much of the invocation left; the rest waits for the next run.
STEP_MARGIN_SECONDS = 8.0


@dataclass
class Erasure:
    status: str
    counts: dict[str, int] = field(default_factory=dict)


class AccountEraser:
    def __init__(
        self,
        store: ErasureStore,
        settings: SettingsStore,
        gateway: ErasureGateway,
        clock: Callable[[], dt.datetime],
        logger: Logger,
    ) -> None:
        self.store = store
        self.settings = settings
        self.gateway = gateway
        self.clock = clock
        self.logger = logger

    # -- the job ---------------------------------------------------------------------------------

    def job(self, user_id: str) -> DynamoItem | None:
        return self.store.job(user_id)

    def start(self, user_id: str, username: str) -> DynamoItem:
        """The job, created with what later steps need, or the one already under way."""
        existing = self.job(user_id)
        if existing is not None:
            return existing
        moment = self.clock()
        job = {
            **keys.erasure_key(user_id),
            "status": IN_PROGRESS,
            "username": username,
            "endpointArns": sorted(self._device_endpoints(user_id)),
            "steps": {},
            "createdAt": iso_timestamp(moment),
            "ttl": int((moment + JOB_RETENTION).timestamp()),
        }
        self.store.create_job(job)
        return job

    def erase(self, user_id: str, seconds_left: Callable[[], float]) -> Erasure:
        """Run the steps not done yet, while time allows."""
        job = self._job_of(user_id)
        done: DynamoItem = dict(job.get("steps") or {})
        for step in STEPS:
            if step in done:
                continue
            if seconds_left() < STEP_MARGIN_SECONDS:
                return Erasure(IN_PROGRESS, _counts(done))
            count = getattr(self, f"_erase_{step}")(user_id, job)
            done[step] = count
            self.store.record_step(user_id, step, count, forget_username=step == "cognito")
        if job.get("status") != COMPLETED:
            self.logger.info(
                "account erased",
                extra={"audit": "account-erasure", "user_hash": hash_user_id(user_id), "counts": _counts(done)},
            )
            self.store.complete_job(user_id, iso_timestamp(self.clock()))
        return Erasure(COMPLETED, _counts(done))

    def sweep(self, user_id: str, seconds_left: Callable[[], float], final: bool = False) -> Erasure:
        """Every data step again, whatever the job says: what this run found and deleted. The
        device snapshot is taken afresh first, so a device registered meanwhile goes too."""
        job = self._job_of(user_id)
        job["endpointArns"] = sorted({*(job.get("endpointArns") or ()), *self._device_endpoints(user_id)})
        if job["endpointArns"]:  # snapshotted before the table step deletes the settings
            self.store.remember_endpoints(user_id, job["endpointArns"])
        found: dict[str, int] = {"cognito": 0}
        for step in DATA_STEPS:
            if seconds_left() < STEP_MARGIN_SECONDS:
                return Erasure(IN_PROGRESS, found)
            found[step] = getattr(self, f"_erase_{step}")(user_id, job)
        stamp = {"finalSweepAt" if final else "lastSweepAt": iso_timestamp(self.clock())}
        self.store.record_sweep(user_id, stamp)
        self.logger.info(
            "account swept",
            extra={
                "audit": "account-erasure-sweep",
                "user_hash": hash_user_id(user_id),
                "final": final,
                "counts": found,
            },
        )
        return Erasure(COMPLETED, found)

    def _job_of(self, user_id: str) -> DynamoItem:
        job = self.job(user_id)
        if job is None:
            raise LookupError("no deletion was requested for this user")
        return job

    def _device_endpoints(self, user_id: str) -> set[str]:
        devices = (self.settings.get(user_id) or {}).get("devices") or {}
        return {device["endpointArn"] for device in devices.values()}

    # -- the steps -------------------------------------------------------------------------------

    def _erase_cognito(self, user_id: str, job: DynamoItem) -> int:
        if not self.gateway.delete_user(job.get("username") or user_id):
            return 0  # deleted by an earlier run
        return 1

    def _erase_inbound(self, user_id: str, job: DynamoItem) -> int:
        """Raw messages received for the user and not yet read (read ones are deleted at once)."""
        return self.gateway.delete_raw_mail(self.store.raw_mail_keys(user_id))

    def _erase_table(self, user_id: str, job: DynamoItem) -> int:
        return self.store.delete_user_partition(user_id)

    def _erase_images(self, user_id: str, job: DynamoItem) -> int:
        return self.gateway.delete_images(user_prefix(user_id))

    def _erase_exports(self, user_id: str, job: DynamoItem) -> int:
        """An export being built is cancelled: its multipart upload is aborted."""
        prefix = keys.exports_prefix(user_id)
        self.gateway.abort_export_uploads(prefix)
        return self.gateway.delete_exports(prefix)

    def _erase_endpoints(self, user_id: str, job: DynamoItem) -> int:
        deleted = 0
        for arn in job.get("endpointArns") or []:
            endpoint = self.gateway.endpoint(arn)
            if endpoint is None:
                continue  # gone already
            if endpoint.owner in (None, "", user_id):  # a token that moved to another user stays theirs
                self.gateway.delete_endpoint(arn)
                deleted += 1
        return deleted

    def _erase_cdn(self, user_id: str, job: DynamoItem) -> int:
        """Invalidate the user's paths at the edge: one wildcard path, so one invalidation."""
        self.gateway.invalidate(
            f"/{user_prefix(user_id)}*",
            f"erasure-{job['PK'].removeprefix(keys.DELETION_PREFIX)[:32]}-{uuid.uuid4().hex}",
        )
        return 1


def _counts(done: DynamoItem) -> dict[str, int]:
    return {step: int(count) for step, count in done.items()}
