"""POST /receipts/{receiptId}/refine: Haiku first, Sonnet when Haiku is doubtful or unavailable.

Fallback decision table (the primary model's result, then what happens):
  throttled or unavailable            -> fallback
  malformed answer                    -> fallback
  confidence < threshold              -> fallback; the better of the two is kept
  items/total, date or currency wrong -> fallback; the better of the two is kept
  otherwise                           -> done, no fallback
The fallback runs only if enough of the request's time is left (see app.py's budget). If neither model answers,
the receipt keeps its data, is marked `refinement.status = failed`, and the call answers
503 (a model unavailable) or 502 (only bad answers), so the app can simply try again later.

The result is written with one conditional update on the version read: fields in
userEditedFields are never overwritten, and a user edit that lands during the refinement
makes it re-read and apply again (bounded), never overwrite.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from ocr_refine.model_gateway import ModelGateway, ModelUnavailable
from ocr_refine.models import RefineRequest
from ocr_refine.refinement import (
    Extraction,
    MalformedAnswerError,
    converse_request,
    parse_answer,
    prepare_ocr_text,
    problems_of,
    receipt_fields,
)
from receipt_vault.clock import iso_timestamp
from receipt_vault.errors import (
    BadRequestError,
    ModelAnswerError,
    ModelUnavailableError,
    NotFoundError,
    RateLimitedError,
    VersionConflictError,
)
from receipt_vault.images import ImageKey
from receipt_vault.push import Notification, PushSender
from receipt_vault.quotas import DailyQuota
from receipt_vault.receipts.merge import client_content
from receipt_vault.receipts.rules import normalize_receipt_id, to_api
from receipt_vault.receipts.status import DELETED
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.shapes import DynamoItem, JsonObject

MAX_IMAGE_EDGE = 1568  # the longest edge Claude uses without downscaling itself
MIN_SECONDS_FOR_FALLBACK = 20.0  # a fallback call may take two attempts of 2 + 7 s
MAX_APPLY_ATTEMPTS = 3
TEXT_ONLY_ORIGINALS = ("pdf", "html")
IMAGE_FORMATS = {"jpg": "jpeg", "png": "png", "webp": "webp"}


@dataclass
class Attempt:
    model: str
    extraction: Extraction | None = None
    problems: tuple[str, ...] = ()
    failure: str | None = None  # "unavailable" or "malformed"
    latency_ms: float = 0.0

    def acceptable(self, threshold: float) -> bool:
        return self.extraction is not None and self.extraction.confidence >= threshold and not self.problems


@dataclass(frozen=True)
class Models:
    primary: str
    fallback: str
    confidence_threshold: float


class RefineService:
    def __init__(
        self,
        store: ReceiptStore,
        gateway: ModelGateway,  # Bedrock, Textract and the originals in S3
        models: Models,
        clock: Callable[[], dt.datetime],
        record: Callable[[str, float], None],
        push: PushSender | None = None,
        quota: DailyQuota | None = None,
    ) -> None:
        self.quota = quota  # refinements per user and day: each calls Bedrock
        self.store = store
        self.gateway = gateway
        self.models = models
        self.clock = clock
        self.record = record  # (metric name, value)
        self.push = push

    def refine(
        self, user_id: str, receipt_id: str, request: RefineRequest, seconds_left: Callable[[], float]
    ) -> JsonObject:
        receipt = self.store.get(user_id, normalize_receipt_id(receipt_id))
        if receipt is None:
            raise NotFoundError("receipt not found")
        if receipt["status"] == DELETED:
            raise VersionConflictError("the receipt is deleted; restore it first", to_api(receipt))
        image_key = self._own_image(receipt, request.imageKey) if request.imageKey else None
        text = request.ocrRawText or receipt.get("ocrRawText") or ""
        if not text and image_key is None:
            raise BadRequestError("nothing to refine: send ocrRawText or an imageKey")
        return self._refine(user_id, receipt, text, image_key, seconds_left)

    def refine_received(
        self, user_id: str, receipt_id: str, original_key: str, seconds_left: Callable[[], float]
    ) -> str:
        """A receipt received by e-mail (the inbound-mail function's request, from the queue):
        refined once, from its own original and any text it came with. Returns the outcome; a
        model that is unavailable raises, so the queue tries again later."""
        image_key = ImageKey.parse(original_key)
        if image_key is None or (image_key.user_id, image_key.receipt_id) != (user_id, receipt_id):
            return "skipped:not-its-original"  # the queue is this stack's own; never trust it blindly
        receipt = self.store.get(user_id, receipt_id)
        if receipt is None or receipt["status"] == DELETED:
            return "skipped:receipt-gone"
        if (receipt.get("refinement") or {}).get("status") == "refined":
            return "skipped:already-refined"  # a redelivered request, or the user refined it first
        try:
            self._refine(user_id, receipt, receipt.get("ocrRawText") or "", image_key, seconds_left)
        except RateLimitedError:
            return "skipped:daily-limit"  # the user may refine it from the app tomorrow
        except ModelAnswerError:
            return "failed:model-answer"  # marked failed on the receipt; another try would repeat it
        except (NotFoundError, VersionConflictError):
            return "skipped:receipt-changed"
        return "refined"

    def _refine(
        self,
        user_id: str,
        receipt: DynamoItem,
        text: str,
        image_key: ImageKey | None,
        seconds_left: Callable[[], float],
    ) -> JsonObject:
        if self.quota is not None:  # before Textract or Bedrock is called
            self.quota.take(user_id, self.clock())
        if not text and image_key is not None:
            text = self.gateway.expense_text(image_key.key)  # server-side OCR: Textract AnalyzeExpense
        image = self._image_for_model(image_key) if image_key is not None else None
        attempts = self._run_models(prepare_ocr_text(text), image, seconds_left)
        chosen = self._choose(attempts)
        if chosen is None:
            self._mark_failed(user_id, receipt["receiptId"], attempts)
            if any(attempt.failure == "unavailable" for attempt in attempts):
                raise ModelUnavailableError("the models are unavailable; try again later")
            raise ModelAnswerError("the models gave no usable answer; try again later")
        refined = self._apply(user_id, receipt, chosen)
        self._notify(user_id, refined)
        return refined

    # -- models ----------------------------------------------------------------------------------

    def _run_models(
        self, text: str, image: tuple[str, bytes] | None, seconds_left: Callable[[], float]
    ) -> list[Attempt]:
        attempts = [self._ask(self.models.primary, text, image)]
        doubtful = not attempts[0].acceptable(self.models.confidence_threshold)
        if doubtful and seconds_left() >= MIN_SECONDS_FOR_FALLBACK:  # a fallback must fit the request's time
            self.record("FallbackInvocations", 1)
            attempts.append(self._ask(self.models.fallback, text, image))
        return attempts

    def _ask(self, model: str, text: str, image: tuple[str, bytes] | None) -> Attempt:
        started = time.perf_counter()
        attempt = Attempt(model)
        try:
            response = self.gateway.converse(converse_request(model, text, image))
            attempt.extraction = parse_answer(response)
            attempt.problems = tuple(problems_of(attempt.extraction, self.clock().date()))
        except ModelUnavailable:
            attempt.failure = "unavailable"
        except MalformedAnswerError:
            attempt.failure = "malformed"
        attempt.latency_ms = (time.perf_counter() - started) * 1000
        self.record("RefinementLatency", attempt.latency_ms)
        if attempt.extraction is not None:
            self.record("RefinementConfidence", attempt.extraction.confidence)
        return attempt

    def _choose(self, attempts: list[Attempt]) -> Attempt | None:
        """The acceptable answer, else the most confident of the doubtful ones; fewer problems first."""
        answered = [attempt for attempt in attempts if attempt.extraction is not None]
        if not answered:
            return None
        return max(
            answered,
            key=lambda a: (
                a.acceptable(self.models.confidence_threshold),
                -len(a.problems),
                a.extraction.confidence if a.extraction else 0,
            ),
        )

    # -- inputs ----------------------------------------------------------------------------------

    def _own_image(self, receipt: DynamoItem, image_key: str) -> ImageKey:
        """Only an original of this receipt may be read."""
        parsed = ImageKey.parse(image_key)
        if parsed is None or image_key not in receipt.get("imageKeys", []):
            raise NotFoundError("image not found")
        return parsed

    def _image_for_model(self, image: ImageKey) -> tuple[str, bytes] | None:
        """The original, at most 1568 px on its long edge, decoded in bounded memory (the imaging
        layer's code, as thumbnails are made); a PDF goes as Textract text only, and an HTML
        e-receipt as its own text."""
        if image.extension in TEXT_ONLY_ORIGINALS:
            return None
        data = self.gateway.original(image.key)
        from receipt_imaging import UnusableImageError, fit_within

        try:
            return "jpeg", fit_within(data, image.extension, MAX_IMAGE_EDGE)
        except UnusableImageError as unusable:
            raise BadRequestError(f"the image cannot be read ({unusable.reason})") from None

    # -- outputs ---------------------------------------------------------------------------------

    def _apply(self, user_id: str, receipt: DynamoItem, attempt: Attempt) -> JsonObject:
        extraction = attempt.extraction
        assert extraction is not None  # noqa: S101 (chosen attempts always have one)
        threshold = self.models.confidence_threshold
        refinement = {
            "model": attempt.model,
            "confidence": extraction.confidence,
            "fieldConfidence": extraction.fieldConfidence,
            "refinedAt": iso_timestamp(self.clock()),
            "needsReview": extraction.confidence < threshold or bool(attempt.problems),
            "status": "refined",
        }
        if attempt.problems:
            refinement["problems"] = list(attempt.problems)
        extracted = receipt_fields(extraction)
        current = receipt
        for _ in range(MAX_APPLY_ATTEMPTS):
            protected = set(current.get("userEditedFields") or ())
            content = client_content(current) | {
                name: value for name, value in extracted.items() if name not in protected
            }
            result = self.store.replace_content(
                user_id, current, content, self.clock(), server_owned={"refinement": refinement}
            )
            if result.succeeded:  # duplicate-checker examines the refined facts from the stream
                return to_api(result.item or {})
            if result.item is None:
                raise NotFoundError("receipt not found")
            current = result.item  # the user (or a device) changed it meanwhile: apply to that
        raise VersionConflictError("the receipt kept changing during the refinement", to_api(current))

    def _notify(self, user_id: str, receipt: JsonObject) -> None:
        """ "Refinement complete" on the user's devices; a push failure never fails the refinement."""
        if self.push is None:
            return
        review = receipt["refinement"]["needsReview"]
        summary = " ".join(
            str(part)
            for part in (receipt.get("storeName"), receipt.get("totalAmount"), receipt.get("currency"))
            if part
        )
        notification = Notification(
            "Check your receipt" if review else "Receipt refined",
            summary or "Your receipt is ready",
            {"receiptId": receipt["receiptId"], "type": "refinement-complete"},
        )
        try:
            report = self.push.send(user_id, notification)
            failures = report.failed
        except Exception:  # the receipt is refined and stored: the push is a courtesy
            failures = 1
        if failures:
            self.record("PushFailures", failures)

    def _mark_failed(self, user_id: str, receipt_id: str, attempts: list[Attempt]) -> None:
        failure = {
            "status": "failed",
            "refinedAt": iso_timestamp(self.clock()),
            "model": attempts[-1].model,
            "problems": [attempt.failure or "unknown" for attempt in attempts],
        }
        self.store.set_server_owned(user_id, receipt_id, {"refinement": failure}, iso_timestamp(self.clock()))
