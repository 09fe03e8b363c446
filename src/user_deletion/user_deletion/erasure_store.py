"""DynamoDB access for account erasure: the job item (`DELETION#{sha256(sub)}`), which outlives
the account as proof of the erasure, and the user's partition, which goes entirely."""

from __future__ import annotations

from boto3.dynamodb.conditions import Attr, ConditionBase, Key

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable
from receipt_vault.secret_links import lookups_pointed_to
from receipt_vault.shapes import DynamoItem

QUERY_PAGE = 500
COMPLETED, IN_PROGRESS = "completed", "inProgress"  # the job's status


class ErasureStore:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def job(self, user_id: str) -> DynamoItem | None:
        return self.table.get_item(keys.erasure_key(user_id))

    def create_job(self, job: DynamoItem) -> None:
        self.table.put_item(job)

    def record_step(self, user_id: str, step: str, count: int, forget_username: bool = False) -> None:
        """A step is done: its count is kept. Once the Cognito user is gone, so is its name."""
        self.table.update_item(
            keys.erasure_key(user_id), {f"steps.{step}": count}, ["username"] if forget_username else [], _exists()
        )

    def complete_job(self, user_id: str, completed_at: str) -> None:
        """The job is done; it keeps nothing that points at a device."""
        self.table.update_item(
            keys.erasure_key(user_id), {"status": COMPLETED, "completedAt": completed_at}, ["endpointArns"], _exists()
        )

    def remember_endpoints(self, user_id: str, endpoint_arns: list[str]) -> None:
        """The devices to erase, kept on the job before the table step deletes the settings."""
        self.table.update_item(keys.erasure_key(user_id), {"endpointArns": endpoint_arns}, [], _exists())

    def record_sweep(self, user_id: str, stamp: dict[str, str]) -> None:
        """A sweep ran: its time is kept, and the device snapshot it erased is forgotten."""
        self.table.update_item(keys.erasure_key(user_id), dict(stamp), ["endpointArns"], _exists())

    def raw_mail_keys(self, user_id: str) -> list[str]:
        """The raw messages the user's INBOUND# items name (inbound_mail)."""
        condition = Key("PK").eq(keys.user_pk(user_id)) & Key("SK").begins_with(keys.INBOUND_MESSAGE_PREFIX)
        return [str(item["rawKey"]) for item in self.table.query_all(None, condition) if item.get("rawKey")]

    def delete_user_partition(self, user_id: str) -> int:
        """Every item of the user's partition, page by page until nothing is left, so that items
        written meanwhile go too, and the items outside it that it points to (a calendar feed's
        token, an inbound address). Returns how many were deleted."""
        deleted = 0
        condition = Key("PK").eq(keys.user_pk(user_id))
        while True:
            items, _ = self.table.query(None, condition, limit=QUERY_PAGE)
            if not items:
                return deleted
            outside = lookups_pointed_to(items)
            deleted += self.table.batch_delete([*outside, *({"PK": item["PK"], "SK": item["SK"]} for item in items)])


def _exists() -> ConditionBase:
    return Attr("PK").exists()
