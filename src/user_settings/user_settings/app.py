"""user-settings: GET and PUT /user/settings, POST /user/devices, DELETE /user/devices/{deviceId}."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.event_handler import Response

from receipt_vault.api import build_api, current_user_id, make_lambda_handler, parse_body, to_json
from receipt_vault.clients import LazyClient
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import CLIENT_CONFIG, dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.settings import UserSettingsApiSettings, load_settings
from receipt_vault.user_settings import SettingsStore, settings_view
from user_settings.devices import DeviceRegistration, DeviceRegistry
from user_settings.settings_update import SettingsUpdate

settings = load_settings(UserSettingsApiSettings)
observability = setup_observability()
app = build_api(settings, observability)
store = SettingsStore(dynamodb_table(settings.table_name))
devices = DeviceRegistry(
    # Only the device routes call SNS: the settings routes do not pay for its client.
    LazyClient(lambda: boto3.client("sns", region_name=settings.region, config=CLIENT_CONFIG)),
    store,
    {"android": settings.fcm_platform_application_arn, "ios": settings.apns_platform_application_arn},
    observability.logger,
)


@app.get("/user/settings")
def get_settings() -> dict[str, Any]:
    return settings_view(store.get(current_user_id(app)))


@app.put("/user/settings")
def put_settings() -> dict[str, Any]:
    return store.save(current_user_id(app), parse_body(app, SettingsUpdate), utc_now())


@app.post("/user/devices")
def register_device() -> Response:
    device, created = devices.register(current_user_id(app), parse_body(app, DeviceRegistration), utc_now())
    return Response(status_code=201 if created else 200, content_type="application/json", body=to_json(device))


@app.delete("/user/devices/<deviceId>")
def remove_device(deviceId: str) -> Response:
    devices.remove(current_user_id(app), deviceId)
    return Response(status_code=204, content_type="application/json", body="")


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)
