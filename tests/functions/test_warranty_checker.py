"""warranty-checker: due reminders pushed exactly once, in each user's timezone, without a scan."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.cfn_template import PROJECT_ROOT
from local.runtime import LocalContext
from receipt_vault.receipts.layout import new_receipt_item
from receipt_vault.receipts.models import ReceiptCreate
from receipt_vault.scheduled_jobs import RunIncompleteError
from tests.conftest import TABLE_NAME, DynamoCalls, load_function
from tests.support import push
from tests.support.api_events import lambda_context

DAILY_EVENT = json.loads((PROJECT_ROOT / "events" / "warranty_checker" / "daily_schedule.json").read_text())
RUN = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)  # the captured event's time
CREATED = RUN - dt.timedelta(days=40)


@pytest.fixture
def applications(aws) -> dict[str, str]:
    return push.platform_applications()


@pytest.fixture
def checker(table, applications, monkeypatch) -> Any:
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    return load_function("warranty_checker")


def event_at(moment: dt.datetime) -> dict[str, Any]:
    return {**DAILY_EVENT, "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def run(checker, moment: dt.datetime = RUN, context: Any = None) -> dict[str, Any]:
    return checker.lambda_handler(event_at(moment), context or lambda_context())


def add_warranty(table, user: str, expiry: dt.date | str, store: str = "MediaMarkt", created=CREATED) -> str:
    receipt_id = str(uuid.uuid4())
    request = ReceiptCreate(storeName=store, warrantyExpiryDate=str(expiry), userEditedFields=["warrantyExpiryDate"])
    table.put_item(Item=new_receipt_item(user, receipt_id, request, created))
    return receipt_id


def set_preferences(table, user: str, timezone: str = "Europe/Berlin", offsets=(30, 7, 1)) -> None:
    table.update_item(
        Key={"PK": f"USER#{user}", "SK": "META#SETTINGS"},
        UpdateExpression="SET #tz = :tz, reminderDaysBefore = :offsets",
        ExpressionAttributeNames={"#tz": "timezone"},
        ExpressionAttributeValues={":tz": timezone, ":offsets": list(offsets)},
    )


def a_user(table, applications, user: str, timezone: str = "Europe/Berlin", offsets=(30, 7, 1), devices=1):
    arns = [push.add_device(table, applications, user)[1] for _ in range(devices)]
    set_preferences(table, user, timezone, offsets)
    return arns


def days_from_run(days: int) -> dt.date:
    return RUN.date() + dt.timedelta(days=days)


def pushed_receipts(arn: str) -> list[str]:
    return sorted(message["data"]["receiptId"] for message in push.pushes(arn))


# -- what is due --------------------------------------------------------------------------------


def test_each_due_reminder_is_pushed_to_every_device_of_its_owner(checker, table, applications):
    arns = a_user(table, applications, "user-a", devices=2)
    due = [add_warranty(table, "user-a", days_from_run(days)) for days in (1, 7, 30)]
    add_warranty(table, "user-a", days_from_run(5))  # no offset of 5 days
    add_warranty(table, "user-a", days_from_run(400))

    result = run(checker)

    assert result["sent"] == 3 and result["due"] == 3
    for arn in arns:
        assert pushed_receipts(arn) == sorted(due)
    titles = sorted(message["notification"]["title"] for message in push.pushes(arns[0]))
    assert titles == ["Warranty ends in 30 days", "Warranty ends in 7 days", "Warranty ends tomorrow"]


def test_auckland_and_los_angeles_on_the_same_utc_morning_get_their_own_days_reminders(checker, table, applications):
    # At 07:30 UTC it is the evening of the 22nd in Auckland and the night of the 21st in LA.
    early = dt.datetime(2026, 11, 22, 7, 30, tzinfo=dt.UTC)
    [auckland] = a_user(table, applications, "user-nz", "Pacific/Auckland", offsets=(7,))
    [los_angeles] = a_user(table, applications, "user-la", "America/Los_Angeles", offsets=(7,))
    nz_due = add_warranty(table, "user-nz", "2026-11-29")
    add_warranty(table, "user-nz", "2026-11-28")
    la_due = add_warranty(table, "user-la", "2026-11-28")
    add_warranty(table, "user-la", "2026-11-29")

    run(checker, early)

    assert pushed_receipts(auckland) == [nz_due]
    assert pushed_receipts(los_angeles) == [la_due]


def test_across_the_spring_dst_change_the_reminder_is_sent_once_on_the_run_that_owns_its_day(
    checker, table, applications
):
    [anchorage] = a_user(table, applications, "user-ak", "America/Anchorage", offsets=(7,))
    receipt = add_warranty(table, "user-ak", "2026-03-15", created=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    runs = [dt.datetime(2026, 3, day, 8, tzinfo=dt.UTC) for day in (7, 8, 9, 10)]

    sent = [run(checker, moment)["sent"] for moment in runs]

    assert sent == [0, 0, 1, 0]  # the local 8 March has no 08:00 UTC run of its own
    [message] = push.pushes(anchorage)
    assert message["data"]["receiptId"] == receipt
    assert message["notification"]["title"] == "Warranty ends in 6 days"


def test_a_user_without_devices_is_skipped_without_a_ledger_entry(checker, table):
    set_preferences(table, "user-a")
    add_warranty(table, "user-a", days_from_run(7))

    result = run(checker)

    assert result["without_device"] == 1 and result["sent"] == 0
    assert not [i for i in table.scan()["Items"] if i["SK"].startswith("NOTIF#")]


def test_a_user_who_wants_no_reminders_gets_none(checker, table, applications):
    [arn] = a_user(table, applications, "user-a", offsets=())
    add_warranty(table, "user-a", days_from_run(7))

    assert run(checker)["due"] == 0
    assert push.pushes(arn) == []


# -- exactly once -------------------------------------------------------------------------------


def test_a_rerun_of_the_same_day_sends_nothing_twice(checker, table, applications):
    [arn] = a_user(table, applications, "user-a")
    add_warranty(table, "user-a", days_from_run(7))
    add_warranty(table, "user-a", days_from_run(30))

    first, second = run(checker), run(checker)

    assert (first["sent"], second["sent"], second["already_sent"]) == (2, 0, 2)
    assert len(push.pushes(arn)) == 2
    ledger = [item for item in table.scan()["Items"] if item["SK"].startswith("NOTIF#")]
    assert len(ledger) == 2 and {item["state"] for item in ledger} == {"sent"}


def test_a_retry_an_hour_later_works_on_the_scheduled_day_not_the_clock(checker, table, applications):
    [arn] = a_user(table, applications, "user-a")
    add_warranty(table, "user-a", days_from_run(7))
    run(checker)

    retried = checker.lambda_handler(event_at(RUN), lambda_context())  # same event, later

    assert retried["already_sent"] == 1 and len(push.pushes(arn)) == 1


class ReentrantSns:
    """SNS whose first publish lets a whole second run happen: two overlapping runs."""

    def __init__(self, client: Any, second_run: Any) -> None:
        self.client = client
        self.second_run = second_run
        self.fired = False

    def publish(self, **request: Any) -> Any:
        if not self.fired:
            self.fired = True
            self.second_run()
        return self.client.publish(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_two_overlapping_runs_send_each_reminder_exactly_once(checker, table, applications):
    arns = a_user(table, applications, "user-a", devices=2)
    [other] = a_user(table, applications, "user-b")
    expected_a = sorted(add_warranty(table, "user-a", days_from_run(days)) for days in (1, 7, 30))
    expected_b = [add_warranty(table, "user-b", days_from_run(7))]
    second_checker = load_function("warranty_checker")
    results = []
    endpoints = checker.checker.push.push.endpoints
    endpoints.sns = ReentrantSns(endpoints.sns, lambda: results.append(run(second_checker)))

    results.append(run(checker))

    assert sum(result["sent"] for result in results) == 4
    for arn in arns:
        assert pushed_receipts(arn) == expected_a
    assert pushed_receipts(other) == expected_b


def test_a_disabled_endpoint_is_removed_and_the_other_devices_still_get_the_reminder(checker, table, applications):
    disabled, working = a_user(table, applications, "user-a", devices=2)
    push.disable(disabled)
    add_warranty(table, "user-a", days_from_run(7))
    add_warranty(table, "user-a", days_from_run(1))

    result = run(checker)

    assert result["sent"] == 2 and result["endpoints_removed"] == 1
    assert len(push.pushes(working)) == 2
    devices = table.get_item(Key={"PK": "USER#user-a", "SK": "META#SETTINGS"})["Item"]["devices"]
    assert [device["endpointArn"] for device in devices.values()] == [working]
    assert push.endpoint(disabled) is None  # deleted in SNS too


class FailingSns:
    """SNS that fails for chosen endpoints, as a throttled or broken platform would."""

    def __init__(self, client: Any, failing: set[str], error: Exception) -> None:
        self.client = client
        self.failing = failing
        self.error = error

    def publish(self, **request: Any) -> Any:
        if request["TargetArn"] in self.failing:
            raise self.error
        return self.client.publish(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


THROTTLED = ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")


@pytest.mark.parametrize("error", [THROTTLED, ConnectionResetError("connection reset by peer")])
def test_a_failure_for_one_user_never_stops_the_others_and_the_retry_sends_only_what_is_missing(
    checker, table, applications, error
):
    [broken] = a_user(table, applications, "user-a")
    [healthy] = a_user(table, applications, "user-b")
    add_warranty(table, "user-a", days_from_run(7))
    add_warranty(table, "user-b", days_from_run(7))
    endpoints = checker.checker.push.push.endpoints
    real_sns = endpoints.sns
    endpoints.sns = FailingSns(real_sns, {broken}, error)

    with pytest.raises(RunIncompleteError):
        run(checker)
    assert len(push.pushes(healthy)) == 1 and push.pushes(broken) == []

    endpoints.sns = real_sns  # the platform recovers; Lambda retries the event
    retry = run(checker)

    assert retry["sent"] == 1 and retry["already_sent"] == 1
    assert len(push.pushes(broken)) == 1 and len(push.pushes(healthy)) == 1


class ShortOfTime(LocalContext):
    def __init__(self, calls_with_time: int) -> None:
        fresh = lambda_context()
        super().__init__(fresh.function_name, fresh.memory_limit_in_mb, fresh.invoked_function_arn, 30)
        self.calls_left = calls_with_time

    def get_remaining_time_in_millis(self) -> int:
        self.calls_left -= 1
        return 50_000 if self.calls_left >= 0 else 5_000


def test_a_run_that_runs_out_of_time_stops_cleanly_and_the_retry_resumes(checker, table, applications):
    arns = {user: a_user(table, applications, user)[0] for user in ("user-a", "user-b", "user-c")}
    for user in arns:
        add_warranty(table, user, days_from_run(7))

    with pytest.raises(RunIncompleteError):
        run(checker, context=ShortOfTime(calls_with_time=3))
    partial = sum(len(push.pushes(arn)) for arn in arns.values())
    retry = run(checker)

    assert 0 < partial < 3
    assert retry["sent"] == 3 - partial
    assert all(len(push.pushes(arn)) == 1 for arn in arns.values())


# -- reads, and the index sweep -----------------------------------------------------------------


def test_the_run_never_scans_and_its_reads_follow_the_due_reminders(checker, table, applications):
    a_user(table, applications, "user-a")
    for index in range(30):
        add_warranty(table, f"bystander-{index}", days_from_run(100 + index))
    add_warranty(table, "user-a", days_from_run(7))
    calls = DynamoCalls(checker.table.client)

    run(checker)

    assert "Scan" not in calls.counts
    queried = [params["IndexName"] for name, params in calls.requests if name == "Query"]
    assert set(queried) == {"ByScheduledJob"}
    # The due days anywhere (21st and 22nd) plus each of the 8 offsets: 15 distinct expiry dates.
    # Then the sweep of the last 7 ended days. However many receipts the table holds.
    assert len(queried) == 15 + 7
    assert calls.counts["BatchGetItem"] == 1  # the settings of the one owner found


def test_a_warranty_that_ended_while_active_leaves_the_warranty_indexes(checker, table, applications):
    receipt = add_warranty(table, "user-a", days_from_run(-3))  # live when written, 40 days ago
    kept = add_warranty(table, "user-a", days_from_run(60))

    result = run(checker)

    assert result["expired_removed"] == 1
    item = table.get_item(Key={"PK": "USER#user-a", "SK": f"RECEIPT#{receipt}"})["Item"]
    assert not {"warrantyPK", "warrantySK", "jobPK", "jobSK", "warrantyExpiryKey"} & set(item)
    assert item["serverVersion"] == 1  # index keys are not content: clients see no change
    remaining = table.scan(IndexName="ByWarrantyExpiry")["Items"]
    assert [entry["receiptId"] for entry in remaining] == [kept]


def test_the_sweep_leaves_a_receipt_whose_warranty_was_extended_meanwhile(checker, table):
    receipt = add_warranty(table, "user-a", days_from_run(-3))
    table.update_item(  # another write extended it after the sweep's query read it
        Key={"PK": "USER#user-a", "SK": f"RECEIPT#{receipt}"},
        UpdateExpression="SET warrantyJobKey = :key",
        ExpressionAttributeValues={":key": f"EXPIRY#{days_from_run(300)}"},
    )

    assert run(checker)["expired_removed"] == 0
    assert "warrantyPK" in table.get_item(Key={"PK": "USER#user-a", "SK": f"RECEIPT#{receipt}"})["Item"]


# -- extended cover and the warranty's own state -----------------------------------------------------


def add_receipt(table, user: str, **fields: Any) -> str:
    receipt_id = str(uuid.uuid4())
    table.put_item(Item=new_receipt_item(user, receipt_id, ReceiptCreate(storeName="MediaMarkt", **fields), CREATED))
    return receipt_id


def test_an_extended_cover_is_reminded_when_it_ends_and_the_reminder_names_it(checker, table, applications):
    [arn] = a_user(table, applications, "user-a")
    manufacturer = days_from_run(7)
    extended = add_receipt(
        table,
        "user-a",
        warrantyExpiryDate=manufacturer.isoformat(),
        userEditedFields=["warrantyExpiryDate"],
        extendedWarranty={"provider": "CarePlus", "expiryDate": days_from_run(30).isoformat()},
    )
    plain = add_warranty(table, "user-a", days_from_run(1))

    assert run(checker)["sent"] == 2

    by_receipt = {message["data"]["receiptId"]: message for message in push.pushes(arn)}
    assert set(by_receipt) == {extended, plain}  # not at the manufacturer's end: the extended cover holds
    assert by_receipt[extended]["data"]["cover"] == "extended"
    assert by_receipt[extended]["data"]["warrantyExpiryDate"] == days_from_run(30).isoformat()
    assert "extended warranty" in by_receipt[extended]["notification"]["body"]
    assert by_receipt[plain]["data"]["cover"] == "manufacturer"


@pytest.mark.parametrize("state", ["void", "expired"])
def test_a_void_or_expired_warranty_gets_no_reminder(checker, table, applications, state):
    [arn] = a_user(table, applications, "user-a")
    add_receipt(
        table,
        "user-a",
        warrantyExpiryDate=days_from_run(7).isoformat(),
        userEditedFields=["warrantyExpiryDate"],
        warrantyStatus=state,
    )

    assert run(checker)["sent"] == 0 and push.pushes(arn) == []
