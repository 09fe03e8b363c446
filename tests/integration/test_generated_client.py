"""A client generated from api/openapi.yaml drives the local stack, as an app built on it would.

openapi-python-client generates the client (`make venv`, into .generated/python-client/, which
the project's venv has on its path). Every answer of the run must parse into the model the
contract documents for its status, and back into the very JSON that came: a field the contract
does not type, or does not name, fails the test.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest

from local.cfn_template import OPENAPI_PATH
from tests.integration.conftest import new_user_token

try:
    import receipt_vault_client
except ModuleNotFoundError as missing:  # pragma: no cover - a venv from before the client
    raise ImportError("the client generated from api/openapi.yaml is not installed: run `make venv`") from missing

from receipt_vault_client import AuthenticatedClient
from receipt_vault_client.api.receipts import create_receipt, list_receipts, update_receipt
from receipt_vault_client.api.settings import get_user_settings, put_user_settings
from receipt_vault_client.api.sync import sync_pull, sync_push
from receipt_vault_client.models import (
    ClientStatus,
    EditableField,
    Error,
    ErrorCode,
    ItemError,
    LineItem,
    Receipt,
    ReceiptConflict,
    ReceiptCreate,
    ReceiptList,
    ReceiptUpdate,
    ReminderOffset,
    SyncPullRequest,
    SyncPullResponse,
    SyncPushItem,
    SyncPushRequest,
    SyncPushResponse,
    SyncPushResultOutcome,
    UserSettings,
    UserSettingsConflict,
    UserSettingsUpdate,
)
from receipt_vault_client.types import Response

Model = TypeVar("Model")


@pytest.fixture(scope="module", autouse=True)
def generated_from_this_contract() -> None:
    recorded = Path(receipt_vault_client.__file__).parents[1] / "openapi.sha256"
    current = hashlib.sha256(OPENAPI_PATH.read_bytes()).hexdigest()
    if recorded.read_text().split()[0] != current:
        pytest.fail("the generated client is older than api/openapi.yaml: run `make venv`", pytrace=False)


@pytest.fixture(scope="module")
def client(stack):
    with AuthenticatedClient(base_url=stack.api_url, token=new_user_token(stack), raise_on_unexpected_status=True) as c:
        yield c


def answer(response: Response[Any], status: int, model: type[Model]) -> Model:
    """The answer's body as `model`, parsed from every field the contract documents, and nothing
    else: it turns back into the JSON that came, with no field kept untyped."""
    assert response.status_code == status, response.content
    body = response.parsed
    assert isinstance(body, model), body
    assert body.to_dict() == json.loads(response.content)
    assert undocumented(body) == []
    return body


def undocumented(value: Any, where: str = "body") -> list[str]:
    """Fields the generated models kept in `additional_properties` because the contract does not
    name them (a map the contract types, such as fieldConfidence, is not one)."""
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in undocumented(item, f"{where}[{index}]")]
    if not attrs.has(type(value)):
        return []
    found = []
    for field in attrs.fields(type(value)):
        content = getattr(value, field.name)
        if field.name == "additional_properties":
            if content and "Any" in str(field.type):
                found += [f"{where}.{name}" for name in content]
        else:
            found += undocumented(content, f"{where}.{field.name}")
    return found


def new_receipt(client: AuthenticatedClient, **fields: Any) -> Receipt:
    body = ReceiptCreate(receipt_id=str(uuid.uuid4()), **fields)
    return answer(create_receipt.sync_detailed(client=client, body=body), 201, Receipt)


def test_create_list_update_and_a_version_conflict(client):
    created = new_receipt(
        client,
        store_name="IKEA",
        purchase_date="2026-01-15",
        total_amount="129.90",
        currency="EUR",
        items=[LineItem(description="Lamp", quantity=1, unit_price="129.90")],
        warranty_months=24,
        tags=["home"],
        status=ClientStatus.ACTIVE,
    )
    assert created.server_version == 1 and created.warranty_expiry_date == "2028-01-15"
    assert created.items[0].description == "Lamp" and created.image_keys == []

    listed = answer(list_receipts.sync_detailed(client=client, limit=10), 200, ReceiptList)
    assert created.receipt_id in [receipt.receipt_id for receipt in listed.items]

    edit = ReceiptUpdate(
        server_version=1,
        store_name="IKEA Kungens Kurva",
        purchase_date="2026-01-15",
        total_amount="129.90",
        currency="EUR",
        notes="Kept in the drawer",
        user_edited_fields=[EditableField.STORENAME],
    )
    updated = answer(update_receipt.sync_detailed(created.receipt_id, client=client, body=edit), 200, Receipt)
    assert updated.server_version == 2 and updated.store_name == "IKEA Kungens Kurva"

    stale = answer(update_receipt.sync_detailed(created.receipt_id, client=client, body=edit), 409, ReceiptConflict)
    assert stale.error == ErrorCode.VERSION_CONFLICT and stale.request_id
    assert isinstance(stale.current, Receipt) and stale.current.server_version == 2


def test_an_invalid_body_is_a_typed_error_with_its_details(client):
    invalid = ReceiptCreate(currency="euro")

    refused = answer(create_receipt.sync_detailed(client=client, body=invalid), 400, Error)

    assert refused.error == ErrorCode.VALIDATION_ERROR and refused.details and refused.details[0].message


def test_sync_push_and_pull(client):
    on_server = new_receipt(client, store_name="Elgiganten", total_amount="499.00", currency="SEK")
    made_offline = str(uuid.uuid4())
    push = SyncPushRequest(
        items=[
            SyncPushItem(receipt_id=made_offline, mutation_id="m-1", store_name="Apotek", total_amount="89.50"),
            SyncPushItem(receipt_id=on_server.receipt_id, mutation_id="m-2", server_version=1, notes="Gift"),
            SyncPushItem(receipt_id=str(uuid.uuid4()), purchase_date="2026-02-30"),  # no such day
        ]
    )

    results = answer(sync_push.sync_detailed(client=client, body=push), 200, SyncPushResponse).results

    assert [result.outcome for result in results] == [
        SyncPushResultOutcome.ACCEPTED,
        SyncPushResultOutcome.ACCEPTED,
        SyncPushResultOutcome.REJECTED,
    ]
    assert results[0].item.store_name == "Apotek" and results[1].item.notes == "Gift"
    assert isinstance(results[2].error, ItemError) and results[2].error.details[0].field == "purchaseDate"

    pulled = answer(sync_pull.sync_detailed(client=client, body=SyncPullRequest(limit=100)), 200, SyncPullResponse)
    assert {made_offline, on_server.receipt_id} <= {receipt.receipt_id for receipt in pulled.items}
    assert pulled.sync_timestamp and pulled.full_sync_required is False

    again = answer(
        sync_pull.sync_detailed(client=client, body=SyncPullRequest(last_sync_timestamp=pulled.sync_timestamp)),
        200,
        SyncPullResponse,
    )
    assert made_offline in {receipt.receipt_id for receipt in again.items}  # within the 60 s margin


def test_a_pushed_null_removes_the_field(client):
    """POST /sync/push's body is the function's to validate (params-only): the gateway lets the
    null through, which a draft-4 model would refuse."""
    receipt = new_receipt(client, store_name="Clas Ohlson", tax_amount="12.00", currency="SEK")
    push = SyncPushRequest(items=[SyncPushItem(receipt_id=receipt.receipt_id, server_version=1, tax_amount=None)])

    [result] = answer(sync_push.sync_detailed(client=client, body=push), 200, SyncPushResponse).results

    assert result.outcome == SyncPushResultOutcome.ACCEPTED and "taxAmount" not in result.item.to_dict()


def test_user_settings(client):
    defaults = answer(get_user_settings.sync_detailed(client=client), 200, UserSettings)
    assert defaults.server_version == 0 and defaults.devices == []

    change = UserSettingsUpdate(
        reminder_days_before=[ReminderOffset.VALUE_7, ReminderOffset.VALUE_30],
        weekly_digest_enabled=True,
        timezone="Europe/Berlin",
        locale="de-DE",
        server_version=0,
    )
    saved = answer(put_user_settings.sync_detailed(client=client, body=change), 200, UserSettings)
    assert saved.server_version == 1 and saved.reminder_days_before == [30, 7]

    stale = answer(put_user_settings.sync_detailed(client=client, body=change), 409, UserSettingsConflict)
    assert stale.current.server_version == 1 and stale.current.timezone == "Europe/Berlin"
