"""Push delivery to a user's devices through SNS mobile endpoints: one module for every sender.

A user's devices live in their settings item (`USER#{sub}` / `META#SETTINGS`) as a map
`devices: {deviceId: {platform, endpointArn, ...}}`, so removing one device is a single REMOVE
that cannot clobber another device registered at the same moment.

Each notification is one `MessageStructure=json` publish per device, with FCM (GCM) and APNs
bodies that carry a title, a body and a deep link (`data`, e.g. the receipt id). An endpoint
that SNS reports disabled or gone (the app was uninstalled, the token expired) is removed from
the settings and deleted, and the send goes on with the next device. Delivery is best effort:
a push that fails is logged and counted, never raised into the caller's work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from receipt_vault.shapes import DynamoItem

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from receipt_vault.erasure import ErasedAccounts
    from receipt_vault.push_gateway import PushGateway
    from receipt_vault.settings_store import SettingsStore


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)  # deep link, e.g. {"receiptId": ..., "type": ...}

    def sns_message(self) -> str:
        """One message, a body per platform (SNS picks the endpoint's own)."""
        apns = {"aps": {"alert": {"title": self.title, "body": self.body}, "sound": "default"}, **self.data}
        gcm = {"notification": {"title": self.title, "body": self.body}, "data": self.data}
        return json.dumps(
            {
                "default": self.body,
                "GCM": json.dumps(gcm),
                "APNS": json.dumps(apns),
                "APNS_SANDBOX": json.dumps(apns),
            }
        )


@dataclass
class PushReport:
    sent: int = 0
    removed: list[str] = field(default_factory=list)
    failed: int = 0
    erased: bool = False  # the account's erasure has started: nothing was sent


class PushSender:
    def __init__(self, endpoints: PushGateway, settings: SettingsStore, erased: ErasedAccounts, logger: Logger) -> None:
        self.endpoints = endpoints
        self.settings = settings
        self.erased = erased
        self.logger = logger

    def devices(self, user_id: str) -> dict[str, DynamoItem]:
        devices: dict[str, DynamoItem] = (self.settings.get(user_id) or {}).get("devices") or {}
        return devices

    def send(
        self,
        user_id: str,
        notification: Notification,
        devices: dict[str, DynamoItem] | None = None,
        erasure_checked: bool = False,
    ) -> PushReport:
        """Push to every device of the user: `devices` if the caller has read them already. Never
        to an account whose erasure has started (`erasure_checked`: the caller has just asked)."""
        if not erasure_checked and self.erased.is_erased(user_id):
            return PushReport(erased=True)
        report = PushReport()
        message = notification.sns_message()
        for device_id, device in sorted((self.devices(user_id) if devices is None else devices).items()):
            delivery = self.endpoints.publish(device["endpointArn"], message)
            if delivery.sent:
                report.sent += 1
            elif delivery.gone:
                self._forget(user_id, device_id, device["endpointArn"])
                report.removed.append(device_id)
            else:  # best effort: the next device still gets its push
                report.failed += 1
                self.logger.warning("push failed", extra={"error": delivery.error, "platform": device.get("platform")})
        return report

    def _forget(self, user_id: str, device_id: str, endpoint_arn: str) -> None:
        """Remove the device, unless it was re-registered with another endpoint meanwhile."""
        self.settings.remove_device(user_id, device_id, endpoint_arn)  # device ids are UUIDs: no dot inside
        self.endpoints.delete_endpoint(endpoint_arn)
