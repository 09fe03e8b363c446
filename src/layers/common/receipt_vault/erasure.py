"""Erasure is final: once an account's erasure has started, nothing reaches it again.

Access tokens outlive the Cognito user they were issued to (API Gateway's authorizer checks
signature and expiry only), so a second phone still holding one could write the account back.
Every API request, every push and every scheduled notification therefore asks whether the
account's erasure job (`DELETION#{sha256(sub)}`, written before the first step) exists.

The cost: one strongly consistent GetItem of a small key per API request, about 1 ms in the
region and one read request unit ($0.14 per million requests on demand in eu-west-1; not yet
benchmarked). Eventually consistent would halve it, but could miss an erasure
that began a moment earlier. A container remembers the accounts it found erased, so their
later requests cost nothing; it never remembers an account as not erased.
"""

from __future__ import annotations

from receipt_vault import keys
from receipt_vault.dynamo import DynamoTable


class ErasedAccounts:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table  # its client may be created on first use (clients.lazy_table)
        self._erased: set[str] = set()

    def is_erased(self, user_id: str) -> bool:
        if user_id in self._erased:
            return True
        if self.table.get_item(keys.erasure_key(user_id), consistent=True) is None:
            return False
        self._erased.add(user_id)
        return True
