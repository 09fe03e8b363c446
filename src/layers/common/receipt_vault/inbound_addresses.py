"""Inbound e-mail addresses: `r-<26 base32 characters>@<InboundMailDomain>`, one per user.

The local part is the secret (128 random bits, receipt_vault/secret_links.py): mail clients and
relays may change its case, so it is lower-case base32 and read case-insensitively, and a
`+tag` (sub-addressing, `r-...+amazon@`) is ignored, so users can label what they forward.
"""

from __future__ import annotations

import base64
import re
import secrets
from email.headerregistry import Address
from email.utils import getaddresses

ADDRESS_PREFIX = "r-"
_LOCAL_PART = re.compile(r"^r-[a-z2-7]{26}$")


def new_local_part() -> str:
    return ADDRESS_PREFIX + base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


def address_of(local_part: str, domain: str) -> str:
    return f"{local_part}@{domain.lower()}"


def local_part_at(address: str, domain: str) -> str | None:
    """The secret local part of an address at the inbound domain, normalised; None for an
    address elsewhere or of another shape (which no user can hold)."""
    local, at, address_domain = address.strip().strip("<>").rpartition("@")
    if not at or address_domain.lower().rstrip(".") != domain.lower():
        return None
    local = local.split("+", 1)[0].lower()
    return local if _LOCAL_PART.fullmatch(local) else None


def addresses_in(header_values: list[str]) -> list[str]:
    """Every address in To/Cc-style header values, in order, without duplicates."""
    found: list[str] = []
    for _, address in getaddresses(header_values):
        if address and address.lower() not in found:
            found.append(address.lower())
    return found


def is_allowed_sender(sender: str, allowed: tuple[str, ...]) -> bool:
    """An allow-list entry is an address (`shop@example.com`) or a domain (`@example.com`,
    which covers its subdomains too); an empty list allows everyone."""
    if not allowed:
        return True
    try:
        parsed = Address(addr_spec=sender)
    except (ValueError, IndexError):
        return False
    address, domain = parsed.addr_spec.lower(), parsed.domain.lower()
    for entry in allowed:
        entry = entry.lower()
        if entry.startswith("@"):
            if domain == entry[1:] or domain.endswith("." + entry[1:]):
                return True
        elif address == entry:
            return True
    return False
