"""Requesting an export and reporting on it: the job item, the queue message, the download URL."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from export_request.models import ExportRequest
from receipt_vault.errors import BadRequestError, NotFoundError
from receipt_vault.export_jobs import DOWNLOAD_URL_LIFETIME, READY, ExportJobs, job_view
from receipt_vault.keys import export_object_key
from receipt_vault.receipts.models import UUID_PATTERN
from receipt_vault.s3_presigner import S3Presigner
from receipt_vault.shapes import JsonObject


class ExportService:
    def __init__(
        self,
        jobs: ExportJobs,
        enqueue: Callable[[dict[str, str]], object],
        presigner: S3Presigner,
        bucket: str,
        max_in_progress: int = 1,
        daily_limit: int = 10,
    ) -> None:
        self.jobs = jobs
        self.enqueue = enqueue
        self.presigner = presigner
        self.bucket = bucket
        self.max_in_progress = max_in_progress
        self.daily_limit = daily_limit

    def request(self, user_id: str, request: ExportRequest | None, moment: dt.datetime) -> JsonObject:
        """A new pending job, queued; or, when the user's slots are all taken, the export already
        on its way, whatever its range (a double tap, or a second phone); 429 past the day's
        quota."""
        request = request or ExportRequest()  # its dates are calendar dates (IsoDate)
        if request.from_ and request.to and request.from_ > request.to:
            raise BadRequestError("'from' must not be after 'to'")
        job, created = self.jobs.create(
            user_id, request.from_, request.to, moment, self.max_in_progress, self.daily_limit
        )
        if created:
            try:
                self.enqueue({"userId": user_id, "exportId": job["exportId"]})
            except Exception:
                self.jobs.withdraw(user_id, job)  # nothing would ever build it: free its slot
                raise
        return job_view(job)

    def status(self, user_id: str, export_id: str, moment: dt.datetime) -> JsonObject:
        job = self.jobs.get(user_id, export_id.lower()) if re.fullmatch(UUID_PATTERN, export_id) else None
        if job is None:
            raise NotFoundError("export not found")
        view = job_view(job)
        if job["status"] == READY:
            remaining = dt.datetime.fromisoformat(job["expiresAt"].replace("Z", "+00:00")) - moment
            if remaining.total_seconds() <= 0:
                raise NotFoundError("the export has expired; request a new one")
            # Minted on each request, so the link the app opens is always fresh and never
            # outlives the ZIP: at most 24 hours.
            lifetime = int(min(remaining, DOWNLOAD_URL_LIFETIME).total_seconds())
            key = export_object_key(user_id, export_id)
            view["downloadUrl"] = self.presigner.url("GET", self.bucket, key, lifetime)
            view["downloadUrlExpiresIn"] = lifetime
        return view
