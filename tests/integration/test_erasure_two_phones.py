"""The two-phone story, through the local stack: phone 1 erases the account, and phone 2, whose
access token is still valid, keeps syncing its offline queue. Nothing of it gets through, and
after the final sweep nothing of the user remains anywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import urllib.request
import uuid
from typing import Any

import pytest

from local import example_client
from local.clock import iso_timestamp, utc_now
from local.token import access_token
from tests.integration.conftest import http
from tests.support import images


def sub_of(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def aws(stack, service: str) -> Any:
    return stack.resources.client(service)


def upload(grant: dict[str, Any], photo: bytes) -> int:
    request = urllib.request.Request(grant["uploadUrl"], data=photo, method=grant["method"], headers=grant["headers"])
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def eventually(check, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    return None


def everything_of(stack, user_id: str) -> dict[str, Any]:
    """Every trace of the user the emulation holds: table items, object versions, endpoints."""
    table = aws(stack, "dynamodb")
    items = table.query(
        TableName=stack.functions["ReceiptCrudFunction"].environment["TABLE_NAME"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"USER#{user_id}"}},
    )["Items"]
    s3 = aws(stack, "s3")
    objects = []
    for variable, prefix in (("S3_BUCKET", f"users/{user_id}/"), ("EXPORT_BUCKET", f"exports/{user_id}/")):
        bucket = stack.functions["UserDeletionFunction"].environment[variable]
        listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
        objects += [entry["Key"] for entry in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]]
    endpoints = [device for device in stack.notifications() if device["owner"] == user_id]
    return {"items": items, "objects": objects, "endpoints": endpoints}


def test_phone_2_cannot_bring_back_an_account_phone_1_erased(stack):
    config = stack.config_document()
    email, password = f"user-{uuid.uuid4().hex[:8]}@example.com", "Sup3r-Secret!"
    phone_1 = example_client.sign_up_and_sign_in(config, email, password)
    phone_2 = access_token(config, email, password)
    user_id = sub_of(phone_2)

    # Phone 2 uses the account: a device, settings with the digest, a receipt with an image.
    device = http(stack, "POST", "/user/devices", {"platform": "android", "token": f"fcm:{uuid.uuid4().hex}"}, phone_2)
    settings = {"reminderDaysBefore": [7], "weeklyDigestEnabled": True, "timezone": "UTC", "locale": "en"}
    saved = http(stack, "PUT", "/user/settings", {**settings, "serverVersion": 0}, phone_2)
    ends = (utc_now().date() + dt.timedelta(days=7)).isoformat()
    receipt = http(
        stack,
        "POST",
        "/receipts",
        {"storeName": "Kotsovolos", "warrantyExpiryDate": ends, "userEditedFields": ["warrantyExpiryDate"]},
        phone_2,
    ).body
    photo = images.jpeg(800, 600)
    grants = [
        http(
            stack,
            "POST",
            f"/receipts/{receipt['receiptId']}/images/upload-url",
            {"contentType": "image/jpeg", "contentLength": len(photo)},
            phone_2,
        ).body
        for _ in range(2)
    ]
    assert (device.status, saved.status) == (201, 200)
    assert upload(grants[0], photo) == 200
    assert eventually(
        lambda: http(stack, "GET", f"/receipts/{receipt['receiptId']}", token=phone_2).body["thumbnailKeys"]
    )

    # Phone 1 erases the account.
    token = http(stack, "POST", "/user/account/deletion-token", token=phone_1).body["deletionToken"]
    erased = http(stack, "DELETE", "/user/account", token=phone_1, headers={"X-Deletion-Token": token})
    assert erased.status == 202 and erased.body["status"] == "completed", erased.body

    # Phone 2 syncs its offline queue with its still valid token: every request is refused.
    offline = [
        ("POST", "/sync/push", {"items": [{"receiptId": str(uuid.uuid4()), "storeName": "IKEA"}]}),
        ("POST", "/receipts", {"storeName": "IKEA"}),
        ("PUT", "/user/settings", {**settings, "serverVersion": 1}),
        ("POST", "/user/devices", {"platform": "ios", "token": f"apns-{uuid.uuid4().hex}"}),
        (
            "POST",
            f"/receipts/{receipt['receiptId']}/images/upload-url",
            {"contentType": "image/jpeg", "contentLength": 9},
        ),
        ("POST", "/user/export", {}),
        ("PUT", "/categories", {"custom": ["Pets"], "version": 0}),
        ("GET", "/receipts", None),
        ("POST", "/sync/pull", {}),
        ("GET", "/user/settings", None),
    ]
    for method, path, body in offline:
        refused = http(stack, method, path, body, token=phone_2)
        assert refused.status == 401 and refused.body["error"] == "UNAUTHORIZED", (method, path, refused.body)
    # An upload URL it was given before the erasure still works at S3, for its 10 minutes.
    assert upload(grants[1], photo) == 200
    # The scheduled jobs find nobody to notify.
    reminders = http(stack, "POST", "/_local/schedules/WarrantyCheckerFunction", {})
    digest = http(stack, "POST", "/_local/schedules/WeeklySummaryFunction", {})
    assert reminders.body["result"]["sent"] == 0 and digest.body["result"]["sent"] == 0

    # The final sweep, once the tokens issued before the erasure have expired.
    final_sweep = {"userId": user_id, "kind": "finalSweep", "due": iso_timestamp(utc_now())}
    record = {"messageId": str(uuid.uuid4()), "body": json.dumps(final_sweep), "attributes": {}}
    assert stack.invoke("UserDeletionFunction", {"Records": [record]}) == {"batchItemFailures": []}

    left = eventually(lambda: (lambda found: found if not any(found.values()) else None)(everything_of(stack, user_id)))
    assert left == {"items": [], "objects": [], "endpoints": []}, everything_of(stack, user_id)
    with pytest.raises(aws(stack, "cognito-idp").exceptions.UserNotFoundException):
        aws(stack, "cognito-idp").admin_get_user(UserPoolId=config["userPoolId"], Username=email)
    distribution = stack.functions["UserDeletionFunction"].environment["THUMBNAIL_DISTRIBUTION_ID"]
    cloudfront = aws(stack, "cloudfront")
    invalidations = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items", [])
    paths = [
        path
        for summary in invalidations
        for path in cloudfront.get_invalidation(DistributionId=distribution, Id=summary["Id"])["Invalidation"][
            "InvalidationBatch"
        ]["Paths"]["Items"]
    ]
    assert f"/users/{user_id}/*" in paths
