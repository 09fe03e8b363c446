"""Domain errors, each mapped to one code of the standard error shape in API.md.

Business code raises these. The API layer turns them into
`{"error", "message", "requestId", "details"}`, so every function answers the same way.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    status_code = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body_extras(self) -> dict[str, object]:
        """Fields added to the error body besides the standard four."""
        return {}

    def headers(self) -> dict[str, str]:
        """Headers of the error response besides the content type."""
        return {}


class BadRequestError(ApiError):
    status_code = 400
    code = "VALIDATION_ERROR"


class UnauthorizedError(ApiError):
    status_code = 401
    code = "UNAUTHORIZED"


class ForbiddenError(ApiError):
    status_code = 403
    code = "FORBIDDEN"


class NotFoundError(ApiError):
    """Also used for another user's resource: a 403 would leak that it exists."""

    status_code = 404
    code = "NOT_FOUND"


class VersionConflictError(ApiError):
    """The write was based on a stale version; the body carries the current server item."""

    status_code = 409
    code = "VERSION_CONFLICT"

    def __init__(self, message: str, current: Mapping[str, object] | None) -> None:
        super().__init__(message)
        self.current = current

    def body_extras(self) -> dict[str, object]:
        return {"current": self.current} if self.current is not None else {}


class GoneError(ApiError):
    status_code = 410
    code = "GONE"


class PayloadTooLargeError(ApiError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class RateLimitedError(ApiError):
    """A per-user limit is reached; `retry_after` seconds until it frees up."""

    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


class ModelAnswerError(ApiError):
    """The language models gave no usable answer."""

    status_code = 502
    code = "MODEL_ERROR"


class ModelUnavailableError(ApiError):
    """The language models are throttled or down; a retry later may succeed."""

    status_code = 503
    code = "MODEL_UNAVAILABLE"


class PushUnavailableError(ApiError):
    """Push for this platform is not configured in this deployment, or SNS is failing."""

    status_code = 503
    code = "PUSH_UNAVAILABLE"
