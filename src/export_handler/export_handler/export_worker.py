"""One export job from the queue: claim it, build the ZIP, mark it ready, tell the user.

A redelivered message finds the job ready (or being built under a live lease) and builds
nothing. A failed build is given back as pending, so the next delivery tries again; the last
of the queue's three deliveries marks it failed with a reason the user sees, and the message
goes to the DLQ. A job that disappeared (the account is being deleted) is dropped, and its
ZIP with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from export_handler.export_builder import ExportBuilder, ExportCancelledError
from export_handler.export_gateway import storage_error
from receipt_vault.export_jobs import FAILED, READY, ExportJobs
from receipt_vault.observability import hash_user_id
from receipt_vault.push import Notification, PushSender

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

MAX_DELIVERIES = 3  # the export queue's maxReceiveCount
READY_NOTIFICATION = Notification(
    title="Your export is ready",
    body="Your receipts and images are ready to download for the next 7 days.",
)


class ExportBusyError(RuntimeError):
    """Another worker is building this export under a live lease: try again later."""


def failure_reason(error: Exception) -> str:
    """What the user sees: the kind of failure, never internal text."""
    storage = storage_error(error)
    if storage is not None:
        return f"storage error ({storage.code}); request the export again"
    return "internal error; request the export again"


class ExportWorker:
    def __init__(
        self,
        jobs: ExportJobs,
        builder: ExportBuilder,
        push: PushSender,
        clock: Callable[[], dt.datetime],
        logger: Logger,
    ) -> None:
        self.jobs = jobs
        self.builder = builder
        self.push = push
        self.clock = clock
        self.logger = logger

    def process(self, user_id: str, export_id: str, delivery: int) -> str:
        """The outcome; raises when the message should be delivered again."""
        log = {"user_hash": hash_user_id(user_id), "export_id": export_id, "delivery": delivery}
        claim_id, job = self.jobs.claim(user_id, export_id, self.clock())
        if claim_id is None:
            if job is None:
                return "gone"
            if job["status"] in (READY, FAILED):
                return f"already {job['status']}"
            raise ExportBusyError(export_id)
        assert job is not None  # noqa: S101 (a successful claim returns the updated job)
        try:
            facts = self.builder.build(
                user_id,
                export_id,
                job.get("from"),
                job.get("to"),
                lambda: self.jobs.get(user_id, export_id) is not None,
                self.clock(),
            )
        except ExportCancelledError:
            self.logger.info("export cancelled", extra=log)
            return "cancelled"
        except Exception as error:
            final = delivery >= MAX_DELIVERIES
            self.jobs.give_back(user_id, export_id, claim_id, failure_reason(error), final)
            self.logger.exception("export failed", extra={**log, "final": final})
            raise
        done = self.jobs.complete(
            user_id,
            export_id,
            claim_id,
            {
                "receiptCount": facts.receipt_count,
                "imageCount": facts.image_count,
                "missingImageCount": facts.missing_images,
                "sizeBytes": facts.size_bytes,
            },
            self.clock(),
        )
        if not done:  # the job went away while building: so does the ZIP
            self.builder.discard(user_id, export_id)
            return "cancelled"
        link = {"type": "exportReady", "exportId": export_id}  # the app asks GET /user/export/{id} for the URL
        self.push.send(user_id, Notification(READY_NOTIFICATION.title, READY_NOTIFICATION.body, link))
        self.logger.info("export ready", extra={**log, "receipts": facts.receipt_count, "images": facts.image_count})
        return "ready"
