"""user-settings: GET and PUT /user/settings, POST /user/devices, DELETE /user/devices/{deviceId},
POST and DELETE /user/inbound-address."""

from __future__ import annotations

from receipt_vault import init_phase
from receipt_vault.api import build_api, current_user_id, make_lambda_handler, parse_body, to_json
from receipt_vault.clients import lazy_client
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.inbound_addresses import new_local_part
from receipt_vault.observability import setup_observability
from receipt_vault.rest import Response
from receipt_vault.secret_links import INBOUND_ADDRESS, SecretLinks, SecretLinkStore
from receipt_vault.settings import UserSettingsApiSettings, load_settings
from receipt_vault.settings_store import SettingsStore
from receipt_vault.user_settings import SettingsView
from user_settings.devices import DeviceRegistry
from user_settings.inbound_address import InboundAddressService
from user_settings.models import DeviceRegistration, SettingsUpdate
from user_settings.push_endpoints import PushEndpoints
from user_settings.settings_service import SettingsService

settings = load_settings(UserSettingsApiSettings)
observability = setup_observability()
app = build_api(settings, observability)
table = dynamodb_table(settings.table_name)
store = SettingsStore(table)
user_settings = SettingsService(store)
inbound_address = InboundAddressService(
    SecretLinks(SecretLinkStore(table, INBOUND_ADDRESS), new_local_part), settings.inbound_mail_domain
)
devices = DeviceRegistry(
    # Only the device routes call SNS: the settings routes do not pay for its client.
    PushEndpoints(lazy_client("sns", settings.region)),
    store,
    {"android": settings.fcm_platform_application_arn, "ios": settings.apns_platform_application_arn},
    observability.logger,
)


@app.get("/user/settings")
def get_settings() -> SettingsView:
    return user_settings.get(current_user_id(app))


@app.put("/user/settings")
def put_settings() -> SettingsView:
    return user_settings.save(current_user_id(app), parse_body(app, SettingsUpdate), utc_now())


@app.post("/user/devices")
def register_device() -> Response[str]:
    device, created = devices.register(current_user_id(app), parse_body(app, DeviceRegistration), utc_now())
    return Response(status_code=201 if created else 200, content_type="application/json", body=to_json(device))


@app.delete("/user/devices/<deviceId>")
def remove_device(deviceId: str) -> Response[str]:
    devices.remove(current_user_id(app), deviceId)
    return Response(status_code=204, content_type="application/json", body="")


@app.post("/user/inbound-address")
def enable_inbound_address() -> Response[str]:
    address = inbound_address.enable(current_user_id(app), utc_now())
    return Response(status_code=201, content_type="application/json", body=to_json(address))


@app.delete("/user/inbound-address")
def disable_inbound_address() -> Response[str]:
    inbound_address.disable(current_user_id(app))
    return Response(status_code=204, content_type="application/json", body="")


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
