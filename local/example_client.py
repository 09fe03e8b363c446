"""A client that knows nothing but the local stack's /_local/config, as a Flutter app would.

It signs up a new user in the emulated Cognito pool, confirms with the code the stack kept
(the email Cognito would send), signs in with SRP as Amplify does, then creates,
lists, updates, changes the status of, deletes and restores a receipt, and saves categories,
all over HTTP with the access token. With `--reminders` it instead shows push notifications:
it saves reminder settings, registers a phone, creates a receipt whose warranty ends in 7
days, fires the daily warranty check and prints what the phone received. Run it against
`make dev`:

    .venv/bin/python -m local.example_client --api http://127.0.0.1:3000 [--reminders]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

from local.token import access_token, cognito_client
from receipt_vault.shapes import JsonObject, JsonValue


class ApiClient:
    def __init__(self, api_url: str, token: str | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: JsonValue = None) -> tuple[int, JsonValue]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (the local stack's http URL)
            self.api_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (local URL)
                payload = response.read()
                return response.status, json.loads(payload) if payload else None
        except urllib.error.HTTPError as error:
            payload = error.read()
            return error.code, json.loads(payload) if payload else None


def sign_up_and_sign_in(config: JsonObject, email: str, password: str) -> str:
    """Sign up, confirm with the code "emailed" to the user, sign in with SRP: the access token."""
    cognito = cognito_client(config)
    client_id = config["userPoolClientId"]
    cognito.sign_up(
        ClientId=client_id, Username=email, Password=password, UserAttributes=[{"Name": "email", "Value": email}]
    )
    code = confirmation_code(config, email, "signUp")
    cognito.confirm_sign_up(ClientId=client_id, Username=email, ConfirmationCode=code)
    return access_token(config, email, password)


def confirmation_code(config: JsonObject, username: str, kind: str) -> str:
    """The newest code of `kind` (signUp, forgotPassword) the emulated Cognito sent to the user:
    the local stack keeps the emails it would have sent, at /_local/confirmation-codes."""
    query = urllib.parse.urlencode({"username": username})
    status, body = ApiClient(config["apiUrl"]).call("GET", f"/_local/confirmation-codes?{query}")
    if status != 200:
        raise AssertionError(f"read /_local/confirmation-codes: expected 200, got {status}: {body}")
    codes = [entry["code"] for entry in body["codes"] if entry["kind"] == kind]
    if not codes:
        raise AssertionError(f"no {kind} code was sent to {username}: {body}")
    return str(codes[-1])


def check(condition: bool, message: object) -> None:
    if not condition:
        raise AssertionError(message)


def expect(step: str, status: int, body: JsonValue, wanted: int) -> JsonValue:
    if status != wanted:
        raise AssertionError(f"{step}: expected {wanted}, got {status}: {body}")
    print(f"  {step}: {status}")
    return body


def run(api_url: str) -> JsonObject:
    """The whole flow; returns the final receipt. Raises AssertionError on any unexpected answer."""
    status, config = ApiClient(api_url).call("GET", "/_local/config")
    expect("read /_local/config", status, config, 200)
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    token = sign_up_and_sign_in(config, email, "Sup3r-Secret!")
    api = ApiClient(config["apiUrl"], token)

    receipt = expect(
        "create a receipt",
        *api.call(
            "POST",
            "/receipts",
            {
                "storeName": "Kotsovolos",
                "purchaseDate": "2026-10-05",
                "totalAmount": "349.00",
                "currency": "EUR",
                "category": "Electronics",
                "warrantyMonths": 24,
                "items": [
                    {
                        "description": "Vacuum cleaner",
                        "quantity": 1,
                        "unitPrice": "349.00",
                        "totalPrice": "349.00",
                    }
                ],
            },
        ),
        201,
    )
    receipt_id = receipt["receiptId"]
    listed = expect("list receipts", *api.call("GET", "/receipts?category=Electronics"), 200)
    check([item["receiptId"] for item in listed["items"]] == [receipt_id], listed)
    updated = expect(
        "update it",
        *api.call(
            "PUT",
            f"/receipts/{receipt_id}",
            {
                "storeName": "Kotsovolos Athens",
                "purchaseDate": "2026-10-05",
                "totalAmount": "329.00",
                "currency": "EUR",
                "category": "Electronics",
                "warrantyMonths": 24,
                "notes": "price matched",
                "serverVersion": receipt["serverVersion"],
            },
        ),
        200,
    )
    expect(
        "update it again from a stale version",
        *api.call("PUT", f"/receipts/{receipt_id}", {"notes": "stale", "serverVersion": receipt["serverVersion"]}),
        409,
    )
    archived = expect(
        "archive it",
        *api.call(
            "PATCH",
            f"/receipts/{receipt_id}/status",
            {"status": "archived", "serverVersion": updated["serverVersion"]},
        ),
        200,
    )
    expect("delete it", *api.call("DELETE", f"/receipts/{receipt_id}"), 200)
    restored: JsonObject = expect("restore it", *api.call("POST", f"/receipts/{receipt_id}/restore"), 200)
    check(restored["status"] == "archived" and restored["serverVersion"] == archived["serverVersion"] + 2, restored)
    expect("save categories", *api.call("PUT", "/categories", {"custom": ["Appliances"], "version": 0}), 200)
    return restored


def run_reminders(api_url: str) -> list[JsonObject]:
    """A warranty reminder end to end; returns the notifications the new phone received."""
    status, config = ApiClient(api_url).call("GET", "/_local/config")
    expect("read /_local/config", status, config, 200)
    token = sign_up_and_sign_in(config, f"user-{uuid.uuid4().hex[:8]}@example.com", "Sup3r-Secret!")
    api = ApiClient(config["apiUrl"], token)
    settings = {"reminderDaysBefore": [30, 7, 1], "weeklyDigestEnabled": True, "timezone": "UTC", "locale": "en"}
    expect("save reminder settings", *api.call("PUT", "/user/settings", {**settings, "serverVersion": 0}), 200)
    phone_token = f"fcm:local-phone-{uuid.uuid4().hex}"
    device = expect(
        "register a phone", *api.call("POST", "/user/devices", {"platform": "android", "token": phone_token}), 201
    )
    # The stack's clock, not this machine's: `make dev CLOCK_OFFSET_DAYS=30` moves it.
    now = dt.datetime.fromisoformat(config["clock"]["now"].replace("Z", "+00:00"))
    ends = (now.date() + dt.timedelta(days=7)).isoformat()
    receipt = expect(
        "create a receipt whose warranty ends in 7 days",
        *api.call(
            "POST",
            "/receipts",
            {"storeName": "Mega Electronics", "warrantyExpiryDate": ends, "userEditedFields": ["warrantyExpiryDate"]},
        ),
        201,
    )
    fired = ApiClient(api_url).call(
        "POST", "/_local/schedules/WarrantyCheckerFunction", {"time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    expect("fire the daily warranty check", *fired, 200)
    status, listing = ApiClient(api_url).call("GET", "/_local/notifications")
    expect("read /_local/notifications", status, listing, 200)
    received = [
        message
        for entry in listing["devices"]
        for message in entry["notifications"]
        if message.get("data", {}).get("receiptId") == receipt["receiptId"]
    ]
    check(len(received) == 1, listing)
    print(f"  the phone ({device['deviceId']}) received: {json.dumps(received[0]['notification'])}")
    return received


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.example_client", description=__doc__)
    parser.add_argument("--api", default="http://127.0.0.1:3000")
    parser.add_argument("--reminders", action="store_true", help="show a warranty reminder push instead")
    args = parser.parse_args(argv)
    print(f"Client flow against {args.api}")
    try:
        run_reminders(args.api) if args.reminders else run(args.api)
    except (AssertionError, OSError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print("All steps passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
