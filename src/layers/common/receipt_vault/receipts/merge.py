"""Field-level merge of a device's offline changes into the server's receipt (API.md's tiers).

A push carries the fields the device changed since its base version: a field present is a
change (null removes it), an absent field is untouched. So a stale device never overwrites,
with an old value, a field that another device or the server changed.

When the base is the server's current version, every change applies. When it is stale:
- Tier 1, server-owned (serverVersion, createdAt, imageKeys, thumbnailKeys, refinement):
  a push cannot even name them.
- Tier 2, user-owned (notes, tags, category, status, and the device's own ocrRawText): the
  device's change wins.
- Tier 3, LLM-extractable (storeName, purchaseDate, totalAmount, ...): the device's change wins
  if the field is in its userEditedFields; otherwise the server's value stands, when it has one.
userEditedFields is the union of both sides, so a user's edit stays marked as such.
"""

from __future__ import annotations

from typing import Any

from receipt_vault.receipts.models import EXTRACTABLE_FIELDS

USER_OWNED_FIELDS = ("notes", "tags", "category", "status", "ocrRawText")
SERVER_OWNED_FIELDS = ("serverVersion", "createdAt", "imageKeys", "thumbnailKeys", "refinement")
CLIENT_WRITABLE_FIELDS = (*EXTRACTABLE_FIELDS, *USER_OWNED_FIELDS, "userEditedFields")


def client_content(item: dict[str, Any]) -> dict[str, Any]:
    """The part of a stored receipt a device can write."""
    return {name: item[name] for name in CLIENT_WRITABLE_FIELDS if name in item}


def merge(server: dict[str, Any], changes: dict[str, Any], base_version: int | None) -> dict[str, Any]:
    """The client-writable content after applying `changes` made on top of `base_version`."""
    current = client_content(server)
    stale = base_version != server.get("serverVersion")
    user_edited = set(changes.get("userEditedFields") or ())
    merged = dict(current)
    for name in sorted(changes):  # sorted: the result never depends on the order of the push
        if name == "userEditedFields":
            continue
        if stale and name in EXTRACTABLE_FIELDS and name not in user_edited and name in current:
            continue  # tier 3: the server's (refined) value stands
        value = changes[name]
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    edited = sorted(set(current.get("userEditedFields") or ()) | user_edited)
    if edited:
        merged["userEditedFields"] = edited
    else:
        merged.pop("userEditedFields", None)
    merged.setdefault("status", server.get("status", "active"))
    return merged
