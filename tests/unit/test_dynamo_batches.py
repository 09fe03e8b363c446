"""The batch calls' retry of what DynamoDB leaves unprocessed (dynamo.send_until_processed)."""

from __future__ import annotations

from typing import Any

import pytest

import receipt_vault.dynamo as dynamo
from receipt_vault.dynamo import DynamoTable, UnprocessedItemsError, send_until_processed

KEYS = {"t": {"Keys": [{"PK": {"S": "a"}}, {"PK": {"S": "b"}}], "ConsistentRead": True}}


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The backoff delays, recorded instead of slept, without jitter (random() == 0.5)."""
    slept: list[float] = []
    monkeypatch.setattr(dynamo.time, "sleep", slept.append)
    monkeypatch.setattr(dynamo.random, "random", lambda: 0.5)
    return slept


class Throttled:
    """A batch call that hands back everything unprocessed `times` times (forever if None)."""

    def __init__(self, unprocessed: str, times: int | None = None) -> None:
        self.unprocessed, self.times, self.requests = unprocessed, times, []

    def __call__(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        if self.times is None or len(self.requests) <= self.times:
            return {self.unprocessed: RequestItems}
        return {"Responses": {"t": []}}


def test_what_stays_unprocessed_is_retried_with_exponential_backoff_then_raises(sleeps):
    send = Throttled("UnprocessedKeys")

    with pytest.raises(UnprocessedItemsError, match=r"^2 requests still UnprocessedKeys after 5 retries$"):
        send_until_processed(send, KEYS, "UnprocessedKeys")

    assert send.requests == [KEYS] * (1 + dynamo.UNPROCESSED_RETRIES)
    assert sleeps == [pytest.approx(0.05 * 2**retry) for retry in range(dynamo.UNPROCESSED_RETRIES)]


def test_a_batch_processed_on_a_retry_returns_every_response_without_further_sleep(sleeps):
    send = Throttled("UnprocessedItems", times=2)
    deletes = {"t": [{"DeleteRequest": {"Key": {"PK": {"S": "a"}}}}]}

    responses = send_until_processed(send, deletes, "UnprocessedItems")

    assert len(responses) == 3 and len(send.requests) == 3
    assert sleeps == [pytest.approx(0.05), pytest.approx(0.1)]


def test_a_batch_get_that_stays_unprocessed_raises_rather_than_returning_part(sleeps):
    class AlwaysThrottled:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"Responses": {"t": []}, "UnprocessedKeys": RequestItems}

    with pytest.raises(UnprocessedItemsError, match=r"^1 requests "):
        DynamoTable(AlwaysThrottled(), "t").batch_get([{"PK": "a"}])
    assert len(sleeps) == dynamo.UNPROCESSED_RETRIES
