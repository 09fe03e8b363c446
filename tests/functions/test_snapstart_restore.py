"""An API function resumed from a SnapStart snapshot: its after-restore renewals run against
what its init built, and it serves requests as before, with the page-token key read again."""

from __future__ import annotations

import boto3
import pytest

from receipt_vault import snapstart
from tests.conftest import ApiClient, load_function
from tests.functions.test_receipt_crud import create


@pytest.fixture
def crud(api_env) -> ApiClient:
    return ApiClient(load_function("receipt_crud"))


def test_a_restored_function_serves_its_pages_and_reads_the_page_token_key_again(crud):
    create(crud)
    create(crud)
    secret_reads: list[str] = []
    boto3.DEFAULT_SESSION.events.register(  # type: ignore[union-attr] (the client is made on first use)
        "before-call.secrets-manager.GetSecretValue", lambda **_: secret_reads.append("read")
    )
    first_page = crud.call("GET", "/receipts", query={"limit": "1"})

    snapstart.renew_after_restore()
    second_page = crud.call("GET", "/receipts", query={"limit": "1", "nextToken": first_page.body["nextToken"]})
    crud.call("GET", "/receipts", query={"limit": "1", "nextToken": first_page.body["nextToken"]})

    assert second_page.status == 200
    assert second_page.body["items"][0]["receiptId"] != first_page.body["items"][0]["receiptId"]
    assert secret_reads == ["read", "read"]  # at the first page, once after the restore, then cached
