"""The notification ledger: one claim wins, a crashed claim expires, a failed push is given back."""

from __future__ import annotations

import datetime as dt

import boto3

from receipt_vault.dynamo import DynamoTable
from receipt_vault.notification_ledger import CLAIM_LEASE, NotificationLedger
from tests.conftest import TABLE_NAME

NOW = dt.datetime(2026, 11, 22, 8, 0, 5, tzinfo=dt.UTC)
EXPIRES = dt.datetime(2026, 12, 29, tzinfo=dt.UTC)
SK = "NOTIF#r1#7#2026-11-29"


def ledger() -> NotificationLedger:
    return NotificationLedger(DynamoTable(boto3.client("dynamodb"), TABLE_NAME))


def test_of_two_runs_claiming_the_same_reminder_exactly_one_wins(table):
    first, second = ledger(), ledger()

    claims = [first.claim("user-a", SK, NOW, EXPIRES), second.claim("user-a", SK, NOW, EXPIRES)]

    assert sum(claim is not None for claim in claims) == 1


def test_a_sent_reminder_is_never_claimed_again_not_even_after_the_lease(table):
    claim = ledger().claim("user-a", SK, NOW, EXPIRES)
    assert ledger().complete(claim, NOW, devices=2)

    assert ledger().claim("user-a", SK, NOW + CLAIM_LEASE * 10, EXPIRES) is None
    item = table.get_item(Key={"PK": "USER#user-a", "SK": SK})["Item"]
    assert item["state"] == "sent" and item["devices"] == 2
    assert item["ttl"] == int(EXPIRES.timestamp())  # DynamoDB's TTL removes it after the expiry


def test_a_claim_abandoned_by_a_crashed_run_is_taken_over_after_its_lease_only(table):
    crashed = ledger().claim("user-a", SK, NOW, EXPIRES)
    assert crashed is not None

    assert ledger().claim("user-a", SK, NOW + CLAIM_LEASE / 2, EXPIRES) is None  # the run may be alive
    takeover = ledger().claim("user-a", SK, NOW + CLAIM_LEASE + dt.timedelta(seconds=1), EXPIRES)

    assert takeover is not None
    assert not ledger().complete(crashed, NOW, devices=1)  # the crashed run's claim is gone
    assert ledger().complete(takeover, NOW, devices=1)


def test_a_released_claim_is_claimable_at_once(table):
    claim = ledger().claim("user-a", SK, NOW, EXPIRES)

    ledger().release(claim)

    assert ledger().claim("user-a", SK, NOW, EXPIRES) is not None


def test_releasing_a_claim_that_was_taken_over_leaves_the_new_one_alone(table):
    old = ledger().claim("user-a", SK, NOW, EXPIRES)
    new = ledger().claim("user-a", SK, NOW + CLAIM_LEASE * 2, EXPIRES)

    ledger().release(old)

    assert table.get_item(Key={"PK": "USER#user-a", "SK": SK})["Item"]["claimId"] == new.claim_id
