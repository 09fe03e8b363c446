"""Fair use: a user's daily counters, so one user cannot spend what everyone shares.

A counter (`USER#{sub}` / `QUOTA#{kind}#{day}`) lives in the user's partition, so erasure
removes it, and expires a day after its UTC day. Taking one is a single conditional ADD: two
requests at once can never both take the last unit. A refused request is a 429 RATE_LIMITED
with `Retry-After`: the seconds until the next UTC day, when the counter starts again.
"""

from __future__ import annotations

import datetime as dt

from boto3.dynamodb.conditions import Attr

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable, Increment, TransactUpdate, conditional_update
from receipt_vault.errors import RateLimitedError
from receipt_vault.shapes import DynamoItem

COUNTER_RETENTION = dt.timedelta(days=2)


def _day(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).date().isoformat()


def seconds_to_next_day(moment: dt.datetime) -> int:
    tomorrow = dt.datetime.combine(moment.astimezone(dt.UTC).date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    return max(1, int((tomorrow - moment).total_seconds()) + 1)


def refused(kind: str, limit: int, moment: dt.datetime) -> RateLimitedError:
    return RateLimitedError(
        f"the daily limit of {limit} {kind} requests is reached; try again tomorrow (UTC)",
        retry_after=seconds_to_next_day(moment),
    )


def taking_one(user_id: str, kind: str, limit: int, moment: dt.datetime) -> TransactUpdate:
    """The counter's update, for a caller that takes it in a transaction with other writes."""
    return TransactUpdate(
        keys.quota_key(user_id, kind, _day(moment)),
        {"used": Increment(1), "ttl": int((moment + COUNTER_RETENTION).timestamp())},
        [],
        Attr("used").not_exists() | Attr("used").lt(limit),
    )


class DailyQuota:
    def __init__(self, table: DynamoTable, kind: str, limit: int) -> None:
        self.table = table
        self.kind = kind
        self.limit = limit

    def take(self, user_id: str, moment: dt.datetime) -> None:
        """One unit of today's quota, or RateLimitedError."""
        counter = taking_one(user_id, self.kind, self.limit, moment)
        result = conditional_update(self.table, counter.key, counter.set_values, [], counter.condition)
        if not result.succeeded:
            raise refused(self.kind, self.limit, moment)

    def used(self, user_id: str, moment: dt.datetime) -> int:
        item: DynamoItem | None = self.table.get_item(keys.quota_key(user_id, self.kind, _day(moment)))
        return int((item or {}).get("used", 0))
