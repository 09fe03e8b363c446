"""The API's own metrics: ErrorCount by endpoint, and ActiveUsers counted once per user and day."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest

from receipt_vault.active_users import ActiveUsers, marker_key
from receipt_vault.dynamo import DynamoTable
from tests.conftest import TABLE_NAME, ApiClient, load_function


class EmfLines:
    """The EMF records the API plumbing writes (captured without emf: loggers created under
    emf would keep its stream after the test)."""

    def __init__(self, monkeypatch) -> None:
        self.lines: list[str] = []
        monkeypatch.setattr("receipt_vault.api.write_emf", self.lines.append)

    def of(self, name: str) -> list[dict]:
        return [record for record in map(json.loads, self.lines) if name in record]


@pytest.fixture
def emf(monkeypatch) -> EmfLines:
    return EmfLines(monkeypatch)


def test_every_error_response_counts_under_its_endpoint_and_status_class(api_env, emf, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "category-handler")
    categories = ApiClient(load_function("category_handler"))

    categories.call("PUT", "/categories", body={"custom": ["a", "A"], "version": 0})
    categories.call("GET", "/categories")

    [metric] = emf.of("ErrorCount")
    assert metric["Endpoint"] == "PUT /categories" and metric["StatusClass"] == "4xx"
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ReceiptVault/API"
    # No per-function `service` dimension: the dashboard and alarms read these across functions.
    assert metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Endpoint", "StatusClass"]]


def test_a_user_counts_once_a_day_however_many_functions_and_requests(api_env, emf):
    categories = ApiClient(load_function("category_handler"))
    another_function = ApiClient(load_function("category_handler"))  # another container

    for client in (categories, another_function, categories):
        client.call("GET", "/categories", user="user-a")
    categories.call("GET", "/categories", user="user-b")

    counted = emf.of("ActiveUsers")
    assert len(counted) == 2
    assert {m["_aws"]["CloudWatchMetrics"][0]["Namespace"] for m in counted} == {"ReceiptVault/Users"}


def test_the_markers_hold_no_user_id_change_key_every_day_and_expire(table):
    moments = [dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)]
    for moment in moments:
        counter = ActiveUsers(DynamoTable(boto3.client("dynamodb"), TABLE_NAME), lambda m=moment: m, None)
        assert counter.first_today("user-a")

    markers = table.scan()["Items"]
    assert len(markers) == 2 and all("user-a" not in json.dumps(marker, default=str) for marker in markers)
    assert markers[0]["SK"] != markers[1]["SK"]  # unlinkable across days
    assert all(int(marker["ttl"]) <= int((moments[1] + dt.timedelta(days=2)).timestamp()) for marker in markers)
    assert marker_key("2026-11-22", "user-a")["PK"].startswith("ACTIVE#2026-11-22#")


def test_a_failing_marker_write_never_fails_the_request(api_env, emf, monkeypatch):
    categories = ApiClient(load_function("category_handler"))
    monkeypatch.setattr("receipt_vault.active_users.conditional_put", _throttled)

    response = categories.call("GET", "/categories")

    assert response.status == 200 and emf.of("ActiveUsers") == []


def _throttled(*_, **__):
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem")
