"""A model-based simulation of offline-first sync: several devices of one user, a flaky network,
a REST client, and an executable model of the documented rules.

Each device keeps a local replica and an outbox of pending mutations, edits offline, and syncs
the way docs/sync.md tells an app to:
- every local change is one mutation with its own `mutationId`; a change not yet sent may be
  folded into the pending mutation of its receipt, a sent one never is;
- a push item carries one mutation: the fields it changed, `userEditedFields`, and the base
  version it was made on (none for a receipt made offline);
- a result settles its mutation (`accepted`, `merged`, `duplicate`; `conflict` on a tombstone;
  `gone`); `conflict` for a receipt that kept changing leaves it pending, to send again;
- a pull pages with its cursor; `lastSyncTimestamp` moves only when the last page is in.

The network loses responses (the request was applied; the device retries it later, either as
the same bytes or rebuilt from its outbox, mixed with other mutations), delivers pushes twice,
and pulls are interrupted by other devices' writes, then resumed from the saved cursor or
abandoned. A REST client meanwhile GETs, edits and PUTs back, changes statuses, deletes and
restores.

Requests run one at a time, so the server sees one order, and `ServerModel` (the rules of the
docs/sync.md, written independently of the server's code) predicts every answer: outcome,
serverVersion and content. The run fails at the first difference, or at a broken invariant:
- no acknowledged user edit is missing from the receipt right after it is applied, and a
  retry changes nothing (the model's versions move exactly on change);
- a completed pull leaves the device knowing every change made before the pull began;
- at the end, after every device has pushed and pulled, every device holds the server's state,
  deletes and restores included, and the server holds the model's.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import json
import random
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TIER3 = ("storeName", "totalAmount", "purchaseDate", "warrantyMonths", "warrantyExpiryDate")
TIER2 = ("notes", "tags", "category")
SIMULATED = (*TIER3, *TIER2, "userEditedFields", "status")
MAX_RECORDED, MAX_PENDING = 32, 64  # docs/sync.md's bounds of a receipt's record of pushes
STORES = ("Lidl", "Kotsovolos", "IKEA", "Café Δ", "🧾 Shop")
NOTES = ("gift", "return by Friday", "for the office", "Ωμέγα", "")
TAGS = ("warranty", "home", "work", "tax", "kids")
CATEGORIES = ("Groceries", "Electronics", "Home")


class SyncRuleViolationError(AssertionError):
    """The server broke a documented rule or an invariant; the message says which, and where."""


def add_months(start: dt.date, months: int) -> dt.date:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def plain_form(content: dict[str, Any]) -> dict[str, Any]:
    """Absence has one spelling (null, "" and [] are the field left out); sets are sorted."""
    form = {name: value for name, value in content.items() if value not in (None, "", [])}
    for name in ("tags", "userEditedFields"):
        if name in form:
            form[name] = sorted(set(form[name]))
    return form


def canonical(content: dict[str, Any]) -> dict[str, Any]:
    """The stored form: the plain form, with warrantyExpiryDate derived unless the user set it."""
    form = plain_form(content)
    if "warrantyExpiryDate" not in form.get("userEditedFields", ()):
        form.pop("warrantyExpiryDate", None)
        months, bought = form.get("warrantyMonths"), form.get("purchaseDate")
        if months and bought:
            form["warrantyExpiryDate"] = add_months(dt.date.fromisoformat(bought), months).isoformat()
    return form


def content_of(item: dict[str, Any]) -> dict[str, Any]:
    return canonical({name: item[name] for name in SIMULATED if name in item and name != "status"})


@dataclass
class ModelReceipt:
    content: dict[str, Any]
    status: str
    version: int
    previous_status: str | None = None
    mutations: list[str] = field(default_factory=list)
    filled: set[str] = field(default_factory=set)  # tier-3 fields that ever held a value

    def view(self) -> dict[str, Any]:
        return {**self.content, "status": self.status, "serverVersion": self.version}


@dataclass
class Predicted:
    outcome: str
    version: int | None
    view: dict[str, Any] | None


class ServerModel:
    """The documented rules, as a client developer reads them in docs/sync.md."""

    def __init__(self) -> None:
        self.receipts: dict[str, ModelReceipt] = {}

    # -- push ----------------------------------------------------------------------------------

    def push(self, item: dict[str, Any]) -> Predicted:
        receipt_id, mutation, base = item["receiptId"], item.get("mutationId"), item.get("serverVersion")
        changes = {name: value for name, value in item.items() if name in SIMULATED}
        receipt = self.receipts.get(receipt_id)
        if receipt is not None and mutation in receipt.mutations:
            return Predicted("duplicate", receipt.version, receipt.view())
        if receipt is None:
            if base is not None:
                return Predicted("gone", None, None)
            if changes.get("status") == "deleted":
                return Predicted("accepted", None, None)
            content = canonical({name: value for name, value in changes.items() if name != "status"})
            receipt = ModelReceipt(
                content, changes.get("status") or "active", 1, mutations=[mutation] if mutation else []
            )
            receipt.filled = {name for name in TIER3 if name in content}
            self.receipts[receipt_id] = receipt
            return Predicted("accepted", 1, receipt.view())
        if receipt.status == "deleted" and changes.get("status") != "deleted":
            return Predicted("conflict", receipt.version, receipt.view())
        stale = base != receipt.version
        device_edited = set(changes.get("userEditedFields") or ())
        server_edited = set(receipt.content.get("userEditedFields") or ())
        merged = dict(receipt.content)
        for name, value in changes.items():
            if name in ("userEditedFields", "status"):
                continue
            versioned = name in merged or name in server_edited or name in receipt.filled
            if stale and name in TIER3 and name not in device_edited and versioned:
                continue  # tier 3: the server's version of the field (a value, or its removal) stands
            merged[name] = value
        merged["userEditedFields"] = sorted(server_edited | device_edited)
        after, status = canonical(merged), changes.get("status") or receipt.status
        sent = plain_form(
            {name: value for name, value in changes.items() if name not in ("status", "userEditedFields")}
        )
        fields = [name for name in changes if name not in ("status", "userEditedFields")]
        outcome = "accepted" if all(after.get(name) == sent.get(name) for name in fields) else "merged"
        if after == receipt.content and status == receipt.status:
            if mutation:
                if len(receipt.mutations) < MAX_PENDING:
                    receipt.mutations.append(mutation)
                else:
                    receipt.mutations = [*receipt.mutations, mutation][-MAX_RECORDED:]
            return Predicted(outcome, receipt.version, receipt.view())
        self._change(receipt, after, status)
        if mutation:
            receipt.mutations = [*[m for m in receipt.mutations if m != mutation], mutation][-MAX_RECORDED:]
        return Predicted(outcome, receipt.version, receipt.view())

    def _change(self, receipt: ModelReceipt, content: dict[str, Any], status: str) -> None:
        if status == "deleted" and receipt.status != "deleted":
            receipt.previous_status = receipt.status
        receipt.content, receipt.status = content, status
        receipt.filled |= {name for name in TIER3 if name in content}
        receipt.version += 1

    # -- REST ----------------------------------------------------------------------------------

    def put(self, receipt_id: str, body: dict[str, Any]) -> Predicted:
        receipt = self.receipts[receipt_id]
        if receipt.status == "deleted" or body["serverVersion"] != receipt.version:
            return Predicted("409", receipt.version, receipt.view())
        content = canonical({name: body[name] for name in SIMULATED if name in body and name != "status"})
        status = body.get("status") or receipt.status
        if content != receipt.content or status != receipt.status:
            self._change(receipt, content, status)
        return Predicted("200", receipt.version, receipt.view())

    def patch_status(self, receipt_id: str, status: str, version: int) -> Predicted:
        receipt = self.receipts[receipt_id]
        if receipt.status == "deleted" or version != receipt.version:
            return Predicted("409", receipt.version, receipt.view())
        if status != receipt.status:
            self._change(receipt, receipt.content, status)
        return Predicted("200", receipt.version, receipt.view())

    def delete(self, receipt_id: str) -> Predicted:
        receipt = self.receipts[receipt_id]
        if receipt.status != "deleted":
            self._change(receipt, receipt.content, "deleted")
        return Predicted("200", receipt.version, receipt.view())

    def restore(self, receipt_id: str) -> Predicted:
        receipt = self.receipts[receipt_id]
        if receipt.status == "deleted":
            self._change(receipt, receipt.content, receipt.previous_status or "active")
        return Predicted("200", receipt.version, receipt.view())


@dataclass
class Mutation:
    mutation_id: str
    receipt_id: str
    base: int | None
    changes: dict[str, Any]
    sent: bool = False


@dataclass
class Device:
    name: str
    replica: dict[str, dict[str, Any]] = field(default_factory=dict)  # the server's item, as last heard
    outbox: list[Mutation] = field(default_factory=list)
    last_sync: str | None = None
    saved_pull: tuple[str, str | None] | None = None  # (cursor, lastSyncTimestamp it pages)
    lost_request: dict[str, Any] | None = None  # the bytes of a push whose answer never came

    def local_view(self, receipt_id: str) -> dict[str, Any]:
        view = dict(self.replica.get(receipt_id, {}))
        for mutation in self.outbox:
            if mutation.receipt_id == receipt_id:
                for name, value in mutation.changes.items():
                    if name == "userEditedFields":
                        value = sorted(set(view.get(name, ())) | set(value))
                    view[name] = value
        return view

    def known(self) -> list[str]:
        ids = set(self.replica) | {mutation.receipt_id for mutation in self.outbox}
        return sorted(i for i in ids if self.local_view(i).get("status") != "deleted")


class Simulation:
    def __init__(self, api_url: str, token: str, seed: int, steps: int = 120, devices: int | None = None) -> None:
        self.api_url, self.token = api_url.rstrip("/"), token
        self.rng = random.Random(seed)
        self.seed, self.steps = seed, steps
        self.devices = [Device(f"device-{n}") for n in range(devices or self.rng.randint(2, 4))]
        self.model = ServerModel()
        self.counts: Counter[str] = Counter()
        self.step = 0

    # -- plumbing ------------------------------------------------------------------------------

    def new_id(self) -> str:
        """A UUID from the seed: the same run, ids and order of receipts every time."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        self.counts["requests"] += 1
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(
            self.api_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                payload, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            payload, status = error.read(), error.code
        return status, json.loads(payload) if payload else None

    def fail(self, message: str, **context: Any) -> None:
        detail = json.dumps(context, default=str, ensure_ascii=False)[:2000]
        raise SyncRuleViolationError(f"seed {self.seed}, step {self.step}: {message}\n{detail}")

    def check_item(self, where: str, actual: dict[str, Any] | None, predicted: Predicted) -> None:
        if predicted.view is None or actual is None:
            return
        got = {**content_of(actual), "status": actual["status"], "serverVersion": actual["serverVersion"]}
        if got != predicted.view:
            self.fail(f"{where}: the server's receipt differs from the rules'", server=got, rules=predicted.view)

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> Counter[str]:
        for step in range(self.steps):
            self.step = step
            device = self.rng.choice(self.devices)
            action = self.rng.choices(["edit", "push", "pull", "resume", "rest"], weights=[40, 25, 15, 5, 15])[0]
            if action == "edit":
                self.offline_edit(device)
            elif action == "push":
                self.push(device)
            elif action == "pull":
                self.pull(device, interrupt=self.rng.random() < 0.3)
            elif action == "resume" and device.saved_pull:
                self.resume(device)
            elif action == "rest":
                self.rest_client()
        self.converge()
        return self.counts

    # -- offline edits -------------------------------------------------------------------------

    def offline_edit(self, device: Device) -> None:
        known = device.known()
        if not known or self.rng.random() < 0.15:
            receipt_id = self.new_id()
            changes = {"storeName": self.rng.choice(STORES), "totalAmount": f"{self.rng.randint(1, 999)}.99"}
            if self.rng.random() < 0.5:
                changes |= {"purchaseDate": "2026-01-31", "warrantyMonths": self.rng.choice([1, 12, 24])}
            self.enqueue(device, receipt_id, None, changes)
            self.counts["edits: create"] += 1
            return
        receipt_id = self.rng.choice(known)
        view = device.local_view(receipt_id)
        kind = self.rng.choices(
            ["user-owned", "user-edited", "ocr", "removal", "status", "delete", "warranty"],
            weights=[2, 2, 3, 3, 1, 1, 1],
        )[0]
        self.counts[f"edits: {kind}"] += 1
        if kind == "user-owned":
            name = self.rng.choice(TIER2)
            value: Any = {
                "notes": self.rng.choice(NOTES),
                "tags": self.rng.sample(TAGS, self.rng.randint(0, 3)),
                "category": self.rng.choice(CATEGORIES),
            }[name]
            changes = {name: value}
        elif kind == "user-edited":
            name = self.rng.choice(("storeName", "totalAmount"))
            value = self.rng.choice(STORES) if name == "storeName" else f"{self.rng.randint(1, 999)}.50"
            changes = {name: value, "userEditedFields": [name]}
        elif kind == "ocr":
            changes = {"storeName": self.rng.choice(STORES).upper(), "totalAmount": f"{self.rng.randint(1, 99)}.00"}
        elif kind == "removal":
            name = self.rng.choice(("storeName", "notes", "totalAmount", "category"))
            changes = {name: None}
            if name in TIER3 and self.rng.random() < 0.7:
                changes["userEditedFields"] = [name]
        elif kind == "status":
            changes = {"status": self.rng.choice(["active", "returned", "archived"])}
        elif kind == "delete":
            changes = {"status": "deleted", "userEditedFields": ["status"]}
        else:
            if self.rng.random() < 0.5:
                changes = {"warrantyMonths": self.rng.choice([None, 6, 36])}
            else:
                changes = {"warrantyExpiryDate": "2031-05-05", "userEditedFields": ["warrantyExpiryDate"]}
        base = view.get("serverVersion")
        self.enqueue(device, receipt_id, base, changes)

    def enqueue(self, device: Device, receipt_id: str, base: int | None, changes: dict[str, Any]) -> None:
        unsent = [m for m in device.outbox if m.receipt_id == receipt_id and not m.sent]
        if unsent:  # fold into the mutation not yet sent: it is still one local change set
            mutation = unsent[-1]
            for name, value in changes.items():
                if name == "userEditedFields":
                    value = sorted(set(mutation.changes.get(name, ())) | set(value))
                mutation.changes[name] = value
            return
        device.outbox.append(Mutation(self.new_id(), receipt_id, base, dict(changes)))

    # -- push ----------------------------------------------------------------------------------

    def push_items(self, device: Device) -> list[dict[str, Any]]:
        """One mutation per receipt, the oldest first; at most 10 items."""
        chosen: dict[str, Mutation] = {}
        for mutation in device.outbox:
            chosen.setdefault(mutation.receipt_id, mutation)
        batch = list(chosen.values())
        self.rng.shuffle(batch)
        items = []
        for mutation in batch[:10]:
            mutation.sent = True
            item = {"receiptId": mutation.receipt_id, "mutationId": mutation.mutation_id, **mutation.changes}
            if mutation.base is not None:
                item["serverVersion"] = mutation.base
            items.append(item)
        return items

    def push(self, device: Device, faults: bool = True) -> None:
        if device.lost_request is not None and self.rng.random() < 0.5:
            body, device.lost_request = device.lost_request, None  # the same bytes again
            self.counts["pushes: identical retry"] += 1
        else:
            items = self.push_items(device)
            if not items:
                return
            body = {"items": items}
            device.lost_request = None
        predictions = [self.model.push(item) for item in body["items"]]
        status, response = self.call("POST", "/sync/push", body)
        if status != 200:
            self.fail("push failed", status=status, body=response, request=body)
        for item, predicted, result in zip(body["items"], predictions, response["results"], strict=True):
            self.check_push_result(item, predicted, result)
        if faults and self.rng.random() < 0.1:  # the network delivers the push twice
            self.counts["pushes: duplicated"] += 1
            twice = [self.model.push(item) for item in body["items"]]
            status, response = self.call("POST", "/sync/push", body)
            for item, predicted, result in zip(body["items"], twice, response["results"], strict=True):
                self.check_push_result(item, predicted, result)
        if faults and self.rng.random() < 0.25:  # the answer is lost: the device learns nothing
            self.counts["pushes: response lost"] += 1
            device.lost_request = body
            return
        self.counts["pushes: answered"] += 1
        for item, result in zip(body["items"], response["results"], strict=True):
            self.settle(device, item, result)

    def check_push_result(self, item: dict[str, Any], predicted: Predicted, result: dict[str, Any]) -> None:
        self.counts[f"outcomes: {result['outcome']}"] += 1
        if result["outcome"] != predicted.outcome or result.get("serverVersion") != predicted.version:
            self.fail(
                "a push item's outcome or serverVersion differs from the rules'",
                item=item,
                server={k: result.get(k) for k in ("outcome", "serverVersion", "error")},
                rules={"outcome": predicted.outcome, "serverVersion": predicted.version},
            )
        self.check_item("push", result.get("item"), predicted)
        if result["outcome"] in ("accepted", "merged") and result.get("item"):
            self.check_user_edits_kept(item, result["item"])

    def check_user_edits_kept(self, item: dict[str, Any], stored: dict[str, Any]) -> None:
        """Right after it is applied, every user edit the push carried is in the receipt."""
        edited = set(item.get("userEditedFields") or ())
        stored_form = content_of(stored)
        for name, value in item.items():
            user_edit = name in TIER2 or name == "status" or (name in TIER3 and name in edited)
            if not user_edit or name == "status":
                continue
            if canonical({name: value, "userEditedFields": sorted(edited)}).get(name) != stored_form.get(name):
                self.fail(f"an acknowledged user edit of {name} is not in the receipt", item=item, stored=stored)
        if item.get("status") and stored["status"] != item["status"]:
            self.fail("an acknowledged status change is not in the receipt", item=item, stored=stored)

    def settle(self, device: Device, item: dict[str, Any], result: dict[str, Any]) -> None:
        mutation = next((m for m in device.outbox if m.mutation_id == item["mutationId"]), None)
        outcome = result["outcome"]
        if mutation is None:  # settled already, by an answer to the same mutation sent otherwise
            if result.get("item"):
                self.remember(device, result["item"])
            return
        if outcome == "conflict" and result.get("item", {}).get("status") != "deleted":
            mutation.sent = False  # the receipt kept changing: send it again
            return
        device.outbox.remove(mutation)
        if outcome == "gone":
            device.replica.pop(item["receiptId"], None)
            device.outbox = [m for m in device.outbox if m.receipt_id != item["receiptId"]]
            return
        if result.get("item"):
            self.remember(device, result["item"])

    def remember(self, device: Device, item: dict[str, Any]) -> None:
        known = device.replica.get(item["receiptId"])
        if known is None or item["serverVersion"] >= known.get("serverVersion", 0):
            device.replica[item["receiptId"]] = item

    # -- pull ----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, tuple[int, str]]:
        return {receipt_id: (r.version, r.status) for receipt_id, r in self.model.receipts.items()}

    def pull(self, device: Device, interrupt: bool) -> None:
        before = self.snapshot()
        self.page_through(device, None, device.last_sync, interrupt, before)

    def resume(self, device: Device) -> None:
        cursor, since = device.saved_pull or (None, None)
        device.saved_pull = None
        if self.rng.random() < 0.3:
            self.counts["pulls: abandoned"] += 1
            return
        self.counts["pulls: resumed"] += 1
        self.page_through(device, cursor, since, interrupt=False, before=None)

    def page_through(
        self,
        device: Device,
        cursor: str | None,
        since: str | None,
        interrupt: bool,
        before: dict[str, tuple[int, str]] | None,
    ) -> None:
        pages = 0
        while True:
            body: dict[str, Any] = {"limit": self.rng.choice([2, 3, 5])}
            if since:
                body["lastSyncTimestamp"] = since
            if cursor:
                body["cursor"] = cursor
            status, page = self.call("POST", "/sync/pull", body)
            if status != 200:
                self.fail("pull failed", status=status, body=page)
            pages += 1
            for item in page["items"]:
                self.check_item("pull", item, self.predicted_now(item["receiptId"]))
                self.remember(device, item)
            for receipt_id in page["deleted"]:
                if receipt_id in device.replica:
                    device.replica[receipt_id] = {**device.replica[receipt_id], "status": "deleted"}
                else:
                    device.replica[receipt_id] = {"receiptId": receipt_id, "status": "deleted", "serverVersion": 0}
            cursor = page.get("nextCursor")
            if not cursor:
                break
            if interrupt and pages == 1:
                self.counts["pulls: interrupted"] += 1
                device.saved_pull = (cursor, since)
                other = self.rng.choice(self.devices)
                self.offline_edit(other)
                self.push(other, faults=False)  # another device writes between the pages
                return
        device.last_sync = page["syncTimestamp"]  # a cursor's pages carry the first page's
        self.counts["pulls: completed"] += 1
        if before is not None:
            self.check_pull_missed_nothing(device, before)

    def predicted_now(self, receipt_id: str) -> Predicted:
        receipt = self.model.receipts.get(receipt_id)
        return Predicted("now", receipt.version, receipt.view()) if receipt else Predicted("now", None, None)

    def check_pull_missed_nothing(self, device: Device, before: dict[str, tuple[int, str]]) -> None:
        for receipt_id, (version, status) in before.items():
            known = device.replica.get(receipt_id)
            if known is None:
                self.fail("a completed pull missed a receipt made before it", receipt=receipt_id)
            deleted_since = self.model.receipts[receipt_id].status == "deleted"
            if known.get("status") == "deleted" and (status == "deleted" or deleted_since):
                continue  # a tombstone carries no version: its deletion is what it knows
            if known.get("serverVersion", 0) < version:
                self.fail("a completed pull missed a change made before it", receipt=receipt_id, version=version)

    # -- the REST client -----------------------------------------------------------------------

    def rest_client(self) -> None:
        if not self.model.receipts:
            return
        receipt_id = self.rng.choice(sorted(self.model.receipts))
        status, current = self.call("GET", f"/receipts/{receipt_id}")
        if status != 200:
            self.fail("GET failed", status=status, body=current)
        kind = self.rng.choice(["put", "stale put", "round trip", "put removal", "status", "delete", "restore"])
        self.counts[f"rest: {kind}"] += 1
        if kind == "round trip":  # GET, then PUT back exactly what it returned
            predicted = self.model.put(receipt_id, current)
            status, answer = self.call("PUT", f"/receipts/{receipt_id}", current)
            self.check_rest(kind, predicted, status, answer)
        elif kind == "put removal":  # GET, delete a field, PUT back: the user removed it
            present = [name for name in ("storeName", "totalAmount", "purchaseDate") if name in current]
            removed = self.rng.choice(present) if present else None
            body = {name: value for name, value in current.items() if name != removed}
            predicted = self.model.put(receipt_id, body)
            status, answer = self.call("PUT", f"/receipts/{receipt_id}", body)
            self.check_rest(kind, predicted, status, answer)
        elif kind in ("put", "stale put"):
            body = copy.deepcopy(current)
            body["notes"] = self.rng.choice(NOTES) or None
            if self.rng.random() < 0.5:
                body["storeName"] = self.rng.choice(STORES)
                body["userEditedFields"] = sorted({*body.get("userEditedFields", ()), "storeName"})
            if kind == "stale put" and body["serverVersion"] > 1:
                body["serverVersion"] -= 1
            body = {name: value for name, value in body.items() if value is not None}
            predicted = self.model.put(receipt_id, body)
            status, answer = self.call("PUT", f"/receipts/{receipt_id}", body)
            self.check_rest(kind, predicted, status, answer)
        elif kind == "status":
            statuses = ["active", "returned", "archived"]  # the current one too: a change of nothing
            new = self.rng.choice([*statuses, current["status"]] if current["status"] in statuses else statuses)
            predicted = self.model.patch_status(receipt_id, new, current["serverVersion"])
            status, answer = self.call(
                "PATCH", f"/receipts/{receipt_id}/status", {"status": new, "serverVersion": current["serverVersion"]}
            )
            self.check_rest(kind, predicted, status, answer)
        elif kind == "delete":
            predicted = self.model.delete(receipt_id)
            status, answer = self.call("DELETE", f"/receipts/{receipt_id}")
            self.check_rest(kind, predicted, status, answer)
        else:
            predicted = self.model.restore(receipt_id)
            status, answer = self.call("POST", f"/receipts/{receipt_id}/restore")
            self.check_rest(kind, predicted, status, answer)

    def check_rest(self, kind: str, predicted: Predicted, status: int, answer: Any) -> None:
        if str(status) != predicted.outcome:
            self.fail(
                f"REST {kind}: status differs from the rules'", status=status, rules=predicted.outcome, body=answer
            )
        self.check_item(f"REST {kind}", answer.get("current") if status == 409 else answer, predicted)

    # -- the end -------------------------------------------------------------------------------

    def converge(self) -> None:
        """Every device pushes what it has, on a healthy network, then pulls all; then all agree."""
        for _ in range(10):
            pending = [device for device in self.devices if device.outbox or device.lost_request]
            if not pending:
                break
            for device in pending:
                device.lost_request = None
                for mutation in device.outbox:
                    mutation.sent = False
                self.push(device, faults=False)
        else:
            self.fail("the outboxes never emptied", outboxes={d.name: len(d.outbox) for d in self.devices})
        for device in self.devices:
            device.saved_pull = None
            self.page_through(device, None, device.last_sync, interrupt=False, before=self.snapshot())
        server = self.full_state()
        for receipt_id, receipt in self.model.receipts.items():
            actual = server.get(receipt_id)
            if actual is None:
                self.fail("the server lost a receipt", receipt=receipt_id)
            self.check_item("full sync", actual, Predicted("now", receipt.version, receipt.view()))
        for device in self.devices:
            for receipt_id, actual in server.items():
                mine = device.replica.get(receipt_id)
                if mine is None:
                    self.fail(f"{device.name} never learned of a receipt", receipt=receipt_id)
                if actual["status"] == "deleted":
                    if mine.get("status") != "deleted":
                        self.fail(f"a deletion never reached {device.name}", receipt=receipt_id)
                elif content_of(mine) != content_of(actual) or mine["serverVersion"] != actual["serverVersion"]:
                    self.fail(f"{device.name} did not converge", mine=mine, server=actual)
        self.counts["receipts"] = len(server)

    def full_state(self) -> dict[str, dict[str, Any]]:
        items, cursor = [], None
        while True:
            status, page = self.call("POST", "/sync/full", {"limit": 50, **({"cursor": cursor} if cursor else {})})
            if status != 200:
                self.fail("full sync failed", status=status, body=page)
            items += page["items"]
            cursor = page.get("nextCursor")
            if not cursor:
                return {item["receiptId"]: item for item in items}
