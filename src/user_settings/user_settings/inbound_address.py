"""The user's private address for receipts by e-mail: create or rotate it, disable it.

The address is a secret link (receipt_vault/secret_links.py): only its hash is stored, so it is
shown once, when made. The inbound-mail function resolves it to the user.
"""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from receipt_vault.clock import iso_timestamp
from receipt_vault.errors import NotFoundError
from receipt_vault.inbound_addresses import address_of
from receipt_vault.secret_links import SecretLinks


class InboundAddressView(TypedDict):
    address: str
    createdAt: str


class InboundAddressService:
    def __init__(self, links: SecretLinks, domain: str) -> None:
        self.links = links
        self.domain = domain  # empty: this deployment receives no mail

    def enable(self, user_id: str, moment: dt.datetime) -> InboundAddressView:
        self._require_domain()
        now = iso_timestamp(moment)
        return {"address": address_of(self.links.rotate(user_id, now), self.domain), "createdAt": now}

    def disable(self, user_id: str) -> None:
        self._require_domain()
        self.links.revoke(user_id)

    def _require_domain(self) -> None:
        if not self.domain:
            raise NotFoundError("receipts by e-mail are not enabled on this deployment")
