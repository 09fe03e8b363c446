"""Daily active users, counted without keeping who they were.

Each user is counted once a day: the first request of the day claims a marker item with a
conditional put, and only the winner emits `ActiveUsers` (namespace ReceiptVault/Users), so the
daily Sum is the number of distinct users. The marker's key is a hash of the day and the user
id: a new salt every day, so markers of two days cannot be linked to each other, and none can be
turned back into an account without the user pool. Markers expire after two days. A container
remembers whom it has counted today, so a user's later requests cost nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from receipt_vault.dynamo import DynamoTable, conditional_put

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

MARKER_PREFIX = "ACTIVE#"
MARKER_RETENTION = dt.timedelta(days=2)
SHARDS = "0123456789abcdef"  # the first hex digit spreads a day's markers over 16 partitions


def marker_key(day: str, user_id: str) -> dict[str, str]:
    digest = hashlib.sha256(f"{day}:{user_id}".encode()).hexdigest()
    return {"PK": f"{MARKER_PREFIX}{day}#{digest[0]}", "SK": digest}


class ActiveUsers:
    def __init__(self, table: DynamoTable, clock: Callable[[], dt.datetime], logger: Logger) -> None:
        self.table = table  # its client may be created on first use (clients.lazy_table)
        self.clock = clock
        self.logger = logger
        self._day = ""
        self._counted: set[str] = set()

    def first_today(self, user_id: str) -> bool:
        """True exactly once per user and UTC day, across every function and container."""
        moment = self.clock()
        day = moment.date().isoformat()
        if day != self._day:
            self._day, self._counted = day, set()
        if user_id in self._counted:
            return False
        self._counted.add(user_id)
        key = marker_key(day, user_id)
        try:
            item = {**key, "ttl": int((moment + MARKER_RETENTION).timestamp())}
            return conditional_put(self.table, item, Attr("PK").not_exists()).succeeded
        except ClientError:  # counting must never fail a request
            self.logger.warning("active-user marker not written")
            return False


def active_users_for(table_name: str, logger: Logger) -> ActiveUsers:
    """The counter of an API function, with a client of its own, created on the first request:
    the markers stay out of the function's own calls and out of its cold start."""
    from receipt_vault.clients import lazy_table
    from receipt_vault.clock import utc_now

    return ActiveUsers(lazy_table(table_name), utc_now, logger)
