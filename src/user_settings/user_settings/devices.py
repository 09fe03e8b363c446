"""Push device registration: one SNS platform endpoint per device, stored with the settings.

Follows AWS's advice for mobile endpoints: keep the endpoint ARN, and at each registration
check it still exists, carries the latest token and is enabled; create it only when it does not
exist. CreatePlatformEndpoint is idempotent for the same token, and names the existing endpoint
when the token is already registered with other attributes.

The endpoint's CustomUserData holds the Cognito sub of its owner. When another user signs in on
the same phone, the token (and so the endpoint) moves to them, and it is removed from the
previous owner's devices: nobody receives pushes about another user's receipts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from typing import TYPE_CHECKING

from receipt_vault.clock import iso_timestamp
from receipt_vault.errors import NotFoundError, PushUnavailableError
from receipt_vault.observability import hash_user_id
from receipt_vault.receipts.models import UUID_PATTERN
from receipt_vault.settings_store import SettingsStore
from receipt_vault.shapes import DynamoItem
from receipt_vault.user_settings import DeviceView, device_view
from user_settings.models import DeviceRegistration

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from user_settings.push_endpoints import PushEndpoints

MAX_DEVICES = 10
# Derives a stable device id from the token when the app names none: retries converge.
DEVICE_NAMESPACE = uuid.UUID("6f1c7f3e-4a55-4d3b-9a8e-2f4b8f9d1c20")


def token_hash(platform: str, token: str) -> str:
    """Recognises a token again without storing it: the endpoint holds the token itself."""
    return hashlib.sha256(f"{platform}:{token}".encode()).hexdigest()


def _is_true(value: object) -> bool:
    return str(value).lower() == "true"


class DeviceRegistry:
    def __init__(
        self, endpoints: PushEndpoints, store: SettingsStore, applications: dict[str, str], logger: Logger
    ) -> None:
        self.endpoints = endpoints
        self.store = store
        self.applications = applications  # platform -> platform application ARN ("" if absent)
        self.logger = logger

    def register(self, user_id: str, request: DeviceRegistration, moment: dt.datetime) -> tuple[DeviceView, bool]:
        """The device and whether it is new to this user."""
        application_arn = self.applications.get(request.platform)
        if not application_arn:
            raise PushUnavailableError(f"push notifications for {request.platform} are not configured")
        devices = (self.store.get(user_id) or {}).get("devices") or {}
        fingerprint = token_hash(request.platform, request.token)
        same_token = sorted(known for known, device in devices.items() if device.get("tokenHash") == fingerprint)
        if request.deviceId:
            device_id = request.deviceId.lower()
        elif same_token:
            device_id = same_token[0]
        else:
            device_id = str(uuid.uuid5(DEVICE_NAMESPACE, f"{user_id}:{fingerprint}"))
        current = devices.get(device_id)
        known_arn = current["endpointArn"] if current and current.get("platform") == request.platform else None
        endpoint_arn = self._endpoint_for(user_id, application_arn, request.token, known_arn)
        now = iso_timestamp(moment)
        entry = {
            "platform": request.platform,
            "endpointArn": endpoint_arn,
            "tokenHash": fingerprint,
            "registeredAt": current["registeredAt"] if current else now,
            "updatedAt": now,
        }
        stored = self.store.put_device(user_id, device_id, entry).get("devices") or {}
        # One physical device is one entry: the same token under another id (a reinstalled app)
        # or an endpoint this device no longer uses goes.
        for other_id in same_token:
            if (
                other_id != device_id
                and self.store.remove_device(user_id, other_id, devices[other_id]["endpointArn"]).succeeded
            ):
                stored.pop(other_id, None)  # gone already: it must not count towards the cap
        if current and current["endpointArn"] != endpoint_arn:
            self._delete_endpoint_if_owned(current["endpointArn"], user_id)
        self._evict_oldest(user_id, stored, keep=device_id)
        return device_view(device_id, entry), current is None

    def remove(self, user_id: str, device_id: str) -> None:
        if not re.fullmatch(UUID_PATTERN, device_id):
            raise NotFoundError("device not found")
        device_id = device_id.lower()
        device = ((self.store.get(user_id) or {}).get("devices") or {}).get(device_id)
        if device is None or not self.store.remove_device(user_id, device_id).succeeded:
            raise NotFoundError("device not found")
        self._delete_endpoint_if_owned(device["endpointArn"], user_id)

    # -- SNS endpoints ---------------------------------------------------------------------------

    def _endpoint_for(self, user_id: str, application_arn: str, token: str, known_arn: str | None) -> str:
        if known_arn:
            attributes = self.endpoints.attributes(known_arn)
            # Not made current when SNS refuses the new token here: it has its own endpoint.
            if attributes is not None and self._make_current(known_arn, attributes, user_id, token, may_refuse=True):
                return known_arn
        # The token's endpoint, or the existing one when it is registered already, with other attributes.
        arn = self.endpoints.create(application_arn, token, user_id)
        self._make_current(arn, self.endpoints.attributes(arn) or {}, user_id, token)
        return arn

    def _make_current(
        self, arn: str, attributes: dict[str, str], user_id: str, token: str, *, may_refuse: bool = False
    ) -> bool:
        """Latest token, enabled, owned by this user; a previous owner loses the device. False
        (nothing done) when may_refuse and SNS refuses the token for this endpoint."""
        previous_owner = attributes.get("CustomUserData") or None
        enabled = _is_true(attributes.get("Enabled", "true"))
        outdated = attributes.get("Token") != token or not enabled or previous_owner != user_id
        if outdated and not self.endpoints.make_current(arn, token, user_id, token_may_have_own_endpoint=may_refuse):
            return False
        if previous_owner and previous_owner != user_id:
            self._forget_for(previous_owner, arn)
        return True

    def _forget_for(self, owner: str, endpoint_arn: str) -> None:
        devices = (self.store.get(owner) or {}).get("devices") or {}
        for device_id, device in devices.items():
            if device.get("endpointArn") == endpoint_arn:
                self.store.remove_device(owner, device_id, endpoint_arn)
                self.logger.info("device moved to another user", extra={"previous_owner": hash_user_id(owner)})

    def _delete_endpoint_if_owned(self, arn: str, user_id: str) -> None:
        """Delete an endpoint this user no longer uses, unless it now belongs to someone else."""
        attributes = self.endpoints.attributes(arn)
        if attributes is not None and attributes.get("CustomUserData") in (None, "", user_id):
            self.endpoints.delete(arn)

    def _evict_oldest(self, user_id: str, devices: dict[str, DynamoItem], keep: str) -> None:
        """At most MAX_DEVICES per user: a new phone works, the longest-silent one goes."""
        surplus = len(devices) - MAX_DEVICES
        if surplus <= 0:
            return
        by_age = sorted((device["updatedAt"], device_id) for device_id, device in devices.items() if device_id != keep)
        for _, device_id in by_age[:surplus]:
            arn = devices[device_id]["endpointArn"]
            if self.store.remove_device(user_id, device_id, arn).succeeded:
                self._delete_endpoint_if_owned(arn, user_id)
