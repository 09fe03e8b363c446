"""DynamoDB access for user settings: one item per user (`USER#{sub}` / `META#SETTINGS`).

The settings fields are versioned like every mutable item; the device map is not, because the
app registers its device at every launch and that must never turn a settings save into a 409.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from receipt_vault import keys
from receipt_vault.clock import iso_timestamp
from receipt_vault.dynamo import DynamoTable, WriteResult, conditional_update
from receipt_vault.errors import VersionConflictError
from receipt_vault.shapes import DynamoItem

DIGEST_INDEX_ATTRIBUTES = ("jobPK", "jobSK")


class SettingsStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def get(self, user_id: str, consistent: bool = True) -> DynamoItem | None:
        return self.table.get_item(keys.settings_key(user_id), consistent=consistent)

    def get_many(self, user_ids: list[str]) -> dict[str, DynamoItem]:
        """Settings items by user id; users without one are absent."""
        items = self.table.batch_get([keys.settings_key(user_id) for user_id in user_ids], consistent=False)
        return {keys.user_id_of(item["PK"]): item for item in items}

    def digest_subscribers(self) -> Iterator[DynamoItem]:
        """The settings of every user who opted in to the weekly digest, as projected into
        ByScheduledJob's `DIGEST#WEEKLY` partition."""
        return self.table.query_all("ByScheduledJob", Key("jobPK").eq(keys.DIGEST_JOB_PK))

    def replace_if_version(self, user_id: str, settings: DynamoItem, version: int, moment: dt.datetime) -> WriteResult:
        """Replace the settings fields if the stored ones are at `version` (0: never saved; the
        item may already hold devices). The device map is left as it is. Opting in to the weekly
        digest puts the item into ByScheduledJob's `DIGEST#WEEKLY` partition."""
        values: DynamoItem = {**settings, "serverVersion": version + 1, "updatedAt": iso_timestamp(moment)}
        remove: list[str] = []
        if settings["weeklyDigestEnabled"]:
            values.update(jobPK=keys.DIGEST_JOB_PK, jobSK=keys.user_pk(user_id))
        else:
            remove += DIGEST_INDEX_ATTRIBUTES
        expected = Attr("serverVersion").not_exists() if version == 0 else Attr("serverVersion").eq(version)
        return conditional_update(self.table, keys.settings_key(user_id), values, remove, expected)

    def put_device(self, user_id: str, device_id: str, device: DynamoItem) -> DynamoItem:
        """Add or replace one entry of the device map, creating the map (and the item) if needed.
        Concurrent registrations of other devices are never overwritten."""
        key = keys.settings_key(user_id)
        for _ in range(3):
            try:
                return self.table.update_item(key, {f"devices.{device_id}": device}, [], Attr("devices").exists())
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
            first = {"devices": {device_id: device}}
            created = conditional_update(self.table, key, first, [], Attr("devices").not_exists())
            if created.succeeded:
                return created.item or {}
        raise VersionConflictError("the device list kept changing; try again", None)

    def remove_device(self, user_id: str, device_id: str, endpoint_arn: str | None = None) -> WriteResult:
        """Remove a device, optionally only while it still has `endpoint_arn` (a re-registration
        in the meantime wins)."""
        condition: ConditionBase = Attr(f"devices.{device_id}").exists()
        if endpoint_arn is not None:
            condition = Attr(f"devices.{device_id}.endpointArn").eq(endpoint_arn)
        return conditional_update(self.table, keys.settings_key(user_id), {}, [f"devices.{device_id}"], condition)
