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
  if the field is in its userEditedFields. Otherwise the server's version of the field stands:
  its value, or its removal (a field that had a value, `filledFields`, and has none now; or
  one the user removed, in the server's userEditedFields). A removal is an edit, by PUT or by
  push, so a stale device's old OCR value never brings a removed field back; it may only fill
  a field that never had a value.
userEditedFields is the union of both sides, so a user's edit stays marked as such.
"""

from __future__ import annotations

from receipt_vault.receipts.models import CLIENT_WRITABLE_FIELDS, EXTRACTABLE_FIELDS
from receipt_vault.shapes import DynamoItem


def client_content(item: DynamoItem) -> DynamoItem:
    """The part of a stored receipt a device can write."""
    return {name: item[name] for name in CLIENT_WRITABLE_FIELDS if name in item}


def superseded_fields(server: DynamoItem, changes: DynamoItem, base_version: int | None) -> set[str]:
    """The changed fields whose server version stands (tier 3 of a stale push)."""
    if base_version == server.get("serverVersion"):
        return set()
    device_edited = set(changes.get("userEditedFields") or ())
    server_versioned = set(server.get("userEditedFields") or ()) | set(server.get("filledFields") or ())
    return {
        name
        for name in changes
        if name in EXTRACTABLE_FIELDS
        and name not in device_edited
        and (name in server or name in server_versioned)  # a value, or the removal of one
    }


def merge(server: DynamoItem, changes: DynamoItem, base_version: int | None) -> DynamoItem:
    """The client-writable content after applying `changes` made on top of `base_version`."""
    current = client_content(server)
    kept = superseded_fields(server, changes, base_version)
    merged = dict(current)
    for name in sorted(changes):  # sorted: the result never depends on the order of the push
        if name == "userEditedFields" or name in kept:
            continue
        value = changes[name]
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    edited = sorted(set(current.get("userEditedFields") or ()) | set(changes.get("userEditedFields") or ()))
    if edited:
        merged["userEditedFields"] = edited
    else:
        merged.pop("userEditedFields", None)
    merged.setdefault("status", server.get("status", "active"))
    return merged
