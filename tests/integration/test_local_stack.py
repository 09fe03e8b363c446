"""The local stack over HTTP, as a client developer meets it: auth, validation, CORS, flows, triggers."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
import zipfile

import boto3
import pytest
from PIL import Image

from local import example_client
from local.cfn_template import PROJECT_ROOT
from local.clock import epoch_seconds, utc_now
from local.sam_local_env import env_file
from receipt_vault.receipts.rules import add_months
from tests.integration.conftest import forged_token, http, new_user_token


def aws(stack, service: str):
    return stack.resources.client(service)


# -- the gateway -----------------------------------------------------------------------------


def test_health_is_served_without_a_token(stack):
    response = http(stack, "GET", "/health")

    assert response.status == 200 and response.body["status"] == "ok"


def test_a_request_without_a_token_is_401_in_the_standard_shape(stack):
    response = http(stack, "GET", "/receipts")

    assert response.status == 401
    assert response.body["error"] == "UNAUTHORIZED" and response.body["requestId"]
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda stack: forged_token(stack, exp=int(epoch_seconds()) - 60), id="expired"),
        pytest.param(lambda stack: new_user_token(stack)[:-4] + "AAAA", id="tampered-signature"),
        pytest.param(lambda stack: forged_token(stack, client_id="another-client"), id="another-app-client"),
        pytest.param(
            lambda stack: forged_token(stack, iss="https://cognito-idp.eu-west-1.amazonaws.com/x"),
            id="another-pool",
        ),
        pytest.param(lambda stack: "not.a.jwt", id="garbage"),
        pytest.param(lambda stack: forged_token(stack, scope="openid email"), id="without-the-method-scope"),
        pytest.param(lambda stack: forged_token(stack, scope=None), id="without-scopes"),
        pytest.param(lambda stack: forged_token(stack, nbf=int(epoch_seconds()) + 600), id="not-valid-yet"),
    ],
)
def test_an_invalid_token_is_401(stack, make_token):
    response = http(stack, "GET", "/receipts", token=make_token(stack))

    assert response.status == 401 and response.body["error"] == "UNAUTHORIZED"


@pytest.mark.parametrize("scope", ["aws.cognito.signin.user.admin", "openid aws.cognito.signin.user.admin email"])
def test_a_forged_token_with_every_claim_right_is_accepted(stack, scope):
    # So each rejection above is for the one claim it changes.
    response = http(stack, "GET", "/receipts", token=forged_token(stack, scope=scope))

    assert response.status == 200


def test_an_id_token_is_refused_where_an_access_token_is_required(stack):
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    example_client.sign_up_and_sign_in(stack.config_document(), email, "Sup3r-Secret!")
    id_token = aws(stack, "cognito-idp").initiate_auth(
        ClientId=stack.user_pool_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": "Sup3r-Secret!"},
    )["AuthenticationResult"]["IdToken"]

    assert http(stack, "GET", "/receipts", token=id_token).status == 401


def test_the_claims_of_a_valid_token_reach_the_function(stack):
    token = new_user_token(stack)

    created = http(stack, "POST", "/receipts", {"storeName": "Lidl"}, token=token)
    listed_by_other = http(stack, "GET", "/receipts", token=new_user_token(stack))

    assert created.status == 201
    assert listed_by_other.body["items"] == []


def test_a_body_that_breaks_the_model_is_400_before_the_function_runs(stack):
    token = new_user_token(stack)

    response = http(stack, "POST", "/receipts", {"totalAmount": 12.5, "serverVersion": 3}, token=token)

    assert response.status == 400
    assert response.body["error"] == "VALIDATION_ERROR" and response.body["details"]
    assert http(stack, "GET", "/receipts", token=token).body["items"] == []
    assert stack.log_lines[-2]["function"] is None  # the gateway answered, no function ran


def test_a_version_past_any_write_is_the_gateways_400_on_every_versioned_write(stack):
    token = new_user_token(stack)
    receipt = http(stack, "POST", "/receipts", {"storeName": "Lidl"}, token=token).body
    absurd = 10**38 - 1  # a schema without a maximum let this reach DynamoDB, which holds 38 digits
    settings = {"reminderDaysBefore": [], "weeklyDigestEnabled": False, "timezone": "UTC", "locale": "en"}
    writes = [
        ("PUT", f"/receipts/{receipt['receiptId']}", {"serverVersion": absurd, "notes": "x"}),
        ("PATCH", f"/receipts/{receipt['receiptId']}/status", {"serverVersion": absurd, "status": "archived"}),
        ("PUT", "/categories", {"version": absurd, "custom": []}),
        ("PUT", "/user/settings", {"serverVersion": absurd, **settings}),
    ]

    answers = [http(stack, method, path, body, token=token) for method, path, body in writes]

    assert [(answer.status, answer.body["error"]) for answer in answers] == [(400, "VALIDATION_ERROR")] * 4
    assert http(stack, "GET", f"/receipts/{receipt['receiptId']}", token=token).body == receipt


def test_malformed_json_is_400(stack):
    response = http(stack, "POST", "/receipts", token=new_user_token(stack), raw=b"{oops")

    assert response.status == 400 and response.body["error"] == "VALIDATION_ERROR"


def _raw_exchange(stack, request: bytes) -> bytes:
    """What the stack answers to bytes sent as they are, until it closes the connection."""
    host, port = stack.api_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("length", ["abc", "1e3", "-1", "+5", "\u0661"])
def test_a_content_length_that_is_no_length_is_a_400_not_a_dropped_connection(stack, length):
    head = (
        f"POST /receipts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    )
    answer = _raw_exchange(stack, head.encode() + b"Connection: keep-alive\r\n\r\n{}")

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400")
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"] == "VALIDATION_ERROR"
    assert answer.count(b"HTTP/1.1") == 1  # nothing of the body read as a second request


def test_two_content_lengths_that_disagree_are_a_400_not_a_smuggled_request(stack):
    head = "POST /receipts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n"

    answer = _raw_exchange(stack, head.encode() + b"{}GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 400") and answer.count(b"HTTP/1.1") == 1


def test_a_request_line_the_server_cannot_read_is_answered_in_the_standard_shape(stack):
    answer = _raw_exchange(stack, b"GET /health HTTP/1.1 trailing words\r\nHost: 127.0.0.1\r\n\r\n")

    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert answer.startswith(b"HTTP/1.1 400") and body["error"] == "BAD_REQUEST"


def test_a_chunked_body_is_read_as_api_gateway_reads_it(stack):
    token = new_user_token(stack)
    body = json.dumps({"storeName": "Chunked", "purchaseDate": "2026-01-05", "totalAmount": "3.50"}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    head = (
        "POST /receipts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )

    answer = _raw_exchange(stack, head.encode() + chunks)

    assert answer.startswith(b"HTTP/1.1 201") and answer.count(b"HTTP/1.1") == 1
    assert [item["storeName"] for item in http(stack, "GET", "/receipts", token=token).body["items"]] == ["Chunked"]


def test_a_malformed_chunked_body_is_a_400(stack):
    head = "POST /receipts HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"

    answer = _raw_exchange(stack, head.encode() + b"zz\r\n{}\r\n0\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 400") and answer.count(b"HTTP/1.1") == 1


def test_past_the_stages_burst_a_method_answers_429_in_the_standard_shape_and_others_still_work(stack, monkeypatch):
    from local.throttle import MethodLimit, StageThrottle

    configured = StageThrottle.from_template(stack.template, stack.resources.resolve)
    assert configured is not None and configured.default is not None
    burst = int(configured.default.burst)
    # The template's burst, with no refill: a loaded machine's slow requests cannot refill it.
    monkeypatch.setattr(stack.running.gateway, "throttle", StageThrottle(MethodLimit(rate=0, burst=burst)))

    statuses = [http(stack, "GET", "/health").status for _ in range(burst + 5)]
    refused = http(stack, "GET", "/health")
    other_method = http(stack, "GET", "/receipts", token=new_user_token(stack))

    assert statuses == [200] * burst + [429] * 5
    assert (refused.status, refused.body["error"]) == (429, "RATE_LIMITED")
    assert other_method.status == 200  # a bucket per method


def test_an_unknown_route_is_404(stack):
    response = http(stack, "GET", "/nowhere", token=new_user_token(stack))

    assert response.status == 404 and response.body["error"] == "NOT_FOUND"


def test_a_cors_preflight_is_answered_without_auth(stack):
    response = http(
        stack,
        "OPTIONS",
        "/receipts/0b7e7f5a-93b5-4a4c-9c43-0ac2c2d0d0a1",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "PUT"},
    )

    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_request_is_logged_in_one_structured_line(stack):
    http(stack, "GET", "/health")

    line = stack.log_lines[-1]
    assert line["function"] == "HealthFunction" and line["status"] == 200
    assert line["method"] == "GET" and line["path"] == "/health" and isinstance(line["ms"], float)


# -- the flows -------------------------------------------------------------------------------


def test_a_client_that_knows_only_the_config_can_sign_up_and_manage_receipts(stack):
    restored = example_client.run(stack.api_url)

    assert restored["status"] == "archived"


def test_receipts_and_categories_over_http(stack):
    token = new_user_token(stack)
    receipt_id = str(uuid.uuid4())

    body = {
        "receiptId": receipt_id,
        "storeName": "IKEA",
        "totalAmount": "89.90",
        "currency": "EUR",
        "purchaseDate": "2026-09-01",
    }

    created = http(stack, "POST", "/receipts", body, token=token)
    again = http(stack, "POST", "/receipts", body, token=token)  # an offline client retrying
    fetched = http(stack, "GET", f"/receipts/{receipt_id}", token=token)
    foreign = http(stack, "GET", f"/receipts/{receipt_id}", token=new_user_token(stack))
    status = http(
        stack,
        "PATCH",
        f"/receipts/{receipt_id}/status",
        {"status": "returned", "serverVersion": 1},
        token=token,
    )
    categories = http(stack, "PUT", "/categories", {"custom": ["Furniture"], "version": 0}, token=token)
    stale = http(stack, "PUT", "/categories", {"custom": ["Other"], "version": 0}, token=token)

    assert (created.status, again.status, fetched.status, foreign.status) == (201, 200, 200, 404)
    assert status.body["status"] == "returned"
    assert categories.body["version"] == 1 and stale.status == 409


def test_local_config_tells_a_client_everything_it_needs(stack):
    config = http(stack, "GET", "/_local/config").body

    assert config["apiUrl"] == stack.api_url
    assert {
        "region",
        "userPoolId",
        "userPoolClientId",
        "cognitoEndpoint",
        "awsEndpoint",
        "demoUser",
    } <= config.keys()
    demo = config["demoUser"]
    assert stack.access_token(demo["email"], demo["password"])


# -- triggers --------------------------------------------------------------------------------


def _probe_items(stack, prefix: str) -> list[dict]:
    table = stack.resources.physical_id("ReceiptVaultTable")
    return aws(stack, "dynamodb").query(
        TableName=table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues={":pk": {"S": "PROBE"}, ":prefix": {"S": prefix}},
    )["Items"]


def _eventually(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_a_schedule_fires_on_demand_with_an_eventbridge_event(stack):
    response = http(stack, "POST", "/_local/schedules/ProbeScheduleFunction")

    assert response.status == 200
    assert response.body["result"] == {"detailType": "Scheduled Event", "function": "ProbeScheduleFunction"}
    assert _probe_items(stack, "SCHEDULE#")[0]["source"]["S"] == "aws.events"
    assert http(stack, "POST", "/_local/schedules/NoSuchFunction").status == 404


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/_local/schedules/ProbeScheduleFunction", b"not json"),
        ("/_local/schedules/ProbeScheduleFunction", b"[]"),
        ("/_local/schedules/ProbeScheduleFunction", b'{"time": "next tuesday"}'),
        ("/_local/schedules/ProbeScheduleFunction", b'{"time": 5}'),
        ("/_local/invoke/TwinAFunction", b"\xff\xfe"),
        ("/_local/invoke/TwinAFunction", b"[" * 100_000),
    ],
)
def test_a_local_request_that_cannot_be_read_is_a_400_that_says_why(stack, path, raw):
    response = http(stack, "POST", path, raw=raw)

    assert response.status == 400 and response.body["error"] == "BAD_REQUEST"
    assert "Error(" not in response.body["message"]  # plain words, no Python repr


def test_sqs_messages_are_processed_and_a_poison_message_lands_in_the_dlq(stack):
    sqs = aws(stack, "sqs")
    queue = sqs.get_queue_url(QueueName="probe")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="probe-dlq")["QueueUrl"]
    good = [str(uuid.uuid4()) for _ in range(3)]

    for message_id in good:
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"id": message_id}))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"id": "bad", "poison": True}))

    processed = _eventually(
        lambda: {item["SK"]["S"] for item in _probe_items(stack, "MESSAGE#")} >= {f"MESSAGE#{m}" for m in good}
    )
    dead = _eventually(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"))
    assert processed
    assert dead and json.loads(dead[0]["Body"]) == {"id": "bad", "poison": True}
    assert "MESSAGE#bad" not in {item["SK"]["S"] for item in _probe_items(stack, "MESSAGE#")}


def test_an_s3_upload_under_the_declared_prefix_reaches_its_function(stack):
    s3 = aws(stack, "s3")
    bucket = stack.resources.physical_id("ImagesBucket")

    s3.put_object(Bucket=bucket, Key="elsewhere/ignored.jpg", Body=b"x")
    s3.put_object(Bucket=bucket, Key="probe-uploads/receipt.jpg", Body=b"x")

    delivered = _eventually(lambda: _probe_items(stack, "OBJECT#"))
    assert [item["SK"]["S"] for item in delivered] == ["OBJECT#probe-uploads/receipt.jpg"]
    assert delivered[0]["event"]["S"].startswith("ObjectCreated") and delivered[0]["bucket"]["S"] == bucket


def test_push_platform_applications_are_provisioned_locally(stack):
    applications = aws(stack, "sns").list_platform_applications()["PlatformApplications"]

    assert {app["PlatformApplicationArn"].split("/")[1] for app in applications} >= {"GCM", "APNS_SANDBOX"}


def test_make_invoke_runs_a_captured_event_inside_the_running_stack(stack, capsys):
    from local import invoke

    code = invoke.main(["HealthFunction", "events/health/get_health.json", "--api", stack.api_url])

    printed = capsys.readouterr().out
    result = json.loads(printed[printed.index('{\n  "statusCode"') :])
    assert code == 0 and result["statusCode"] == 200
    assert stack.log_lines is not None


def test_make_invoke_reports_an_unknown_function(stack, capsys):
    from local import invoke

    assert invoke.main(["NoSuchFunction", "events/health/get_health.json", "--api", stack.api_url]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


# -- the runtime -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "https://attacker.example", "Content-Type": "text/plain"}, id="another-origin"),
        pytest.param({"Origin": "null", "Content-Type": "text/plain"}, id="sandboxed-frame"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}, id="cross-site-fetch"),
        pytest.param({"Host": "rebound.attacker.example:3000"}, id="dns-rebinding"),
    ],
)
def test_a_web_page_cannot_drive_the_local_endpoints(stack, headers):
    for path in ("/_local/invoke/TwinAFunction", "/_local/schedules/ProbeScheduleFunction"):
        response = http(stack, "POST", path, raw=b"{}", headers=headers)

        assert response.status == 403 and response.body["error"] == "FORBIDDEN"
    assert not any(line.get("function") == "TwinAFunction" for line in stack.log_lines[-2:])


def test_a_page_under_a_rebound_name_cannot_read_the_local_endpoints_either(stack):
    assert http(stack, "GET", "/_local/config", headers={"Host": "rebound.attacker.example"}).status == 403


def test_the_developers_own_tools_still_drive_them(stack):
    port = stack.running.http.server_address[1]
    same_origin = http(
        stack, "POST", "/_local/invoke/TwinAFunction", {}, headers={"Origin": f"http://127.0.0.1:{port}"}
    )
    emulator = http(stack, "POST", "/_local/invoke/TwinAFunction", {}, headers={"Host": f"10.0.2.2:{port}"})
    curl = http(stack, "POST", "/_local/invoke/TwinAFunction", raw=b"{}", headers={"Content-Type": ""})

    assert same_origin.status == emulator.status == curl.status == 200


def test_functions_with_same_named_modules_and_own_variables_stay_isolated(stack):
    first = http(stack, "POST", "/_local/invoke/TwinAFunction", {}).body["result"]
    second = http(stack, "POST", "/_local/invoke/TwinBFunction", {}).body["result"]
    third = http(stack, "POST", "/_local/invoke/TwinAFunction", {}).body["result"]

    assert first == third == {"helper": "twin-a", "variable": "a"}
    assert second == {"helper": "twin-b", "variable": "b"}


def test_a_handler_change_is_picked_up_without_a_restart(stack, reloadable_dir):
    assert http(stack, "POST", "/_local/invoke/ReloadableFunction", {}).body["result"] == {"version": 1}
    source = reloadable_dir / "app.py"
    source.write_text(source.read_text().replace("'version': 1", "'version': 2"))
    later = time.time() + 5
    os.utime(source, (later, later))  # a coarse file-system clock must still see a change

    assert http(stack, "POST", "/_local/invoke/ReloadableFunction", {}).body["result"] == {"version": 2}


def test_functions_reach_the_emulation_and_the_stand_ins_through_their_endpoints(stack):
    function = stack.functions["ReceiptCrudFunction"]

    assert function.environment["AWS_ENDPOINT_URL"] == stack.aws_endpoint
    assert function.environment["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == stack.standins.url
    assert function.environment["TABLE_NAME"] == "ReceiptVault-dev"
    assert boto3.client  # the functions use plain boto3: nothing in src/ knows about the local stack


def test_env_json_names_the_resources_make_dev_provisions(stack):
    checked_in = json.loads((PROJECT_ROOT / "env.json").read_text())
    at_make_dev_ports = env_file(
        stack, aws_endpoint="http://host.docker.internal:5000", api_url="http://127.0.0.1:3000"
    )

    for function, values in at_make_dev_ports.items():
        if function in stack.template["Resources"] and not function.startswith(("Probe", "Twin", "Reloadable")):
            assert {name: checked_in[function].get(name) for name in values} == values, function


def test_the_running_stack_serves_its_own_env_file_for_sam_local(stack):
    served = http(stack, "GET", "/_local/env.json").body
    kms = aws(stack, "kms")

    deletion = served["UserDeletionFunction"]
    assert deletion["USER_POOL_ID"] == stack.user_pool_id
    assert deletion["ACCOUNT_DELETION_QUEUE_URL"].startswith(
        stack.aws_endpoint.replace("127.0.0.1", "host.docker.internal")
    )
    key_arn = stack.functions["ThumbnailGeneratorFunction"].environment["KMS_KEY_ID"]
    assert kms.describe_key(KeyId=served["ThumbnailGeneratorFunction"]["KMS_KEY_ID"])["KeyMetadata"]["Arn"] == key_arn
    assert served["Parameters"] == {"REGION": "eu-west-1"}


def test_make_token_prints_an_access_token_the_api_accepts(stack, capsys):
    from local import token

    assert token.main(["--api", stack.api_url]) == 0

    printed = capsys.readouterr().out.strip()
    assert http(stack, "GET", "/categories", token=printed).status == 200


def test_the_banner_of_a_stack_on_another_port_names_that_port_for_make_token(stack):
    from local.__main__ import banner

    port = stack.running.http.server_address[1]

    assert f"`make token PORT={port}`" in banner(stack)


def test_make_token_without_a_running_stack_says_how_to_start_one(capsys):
    from local import token

    assert token.main(["--api", "http://127.0.0.1:9"]) == 1
    assert "make dev" in capsys.readouterr().err


# -- images ------------------------------------------------------------------------------------


def test_an_upload_through_the_presigned_url_makes_a_thumbnail_served_by_the_local_cdn(stack):
    from tests.support import images

    token = new_user_token(stack)
    receipt = http(stack, "POST", "/receipts", {"storeName": "Apple Store"}, token=token).body
    photo = images.jpeg(1200, 800, orientation=6)

    grant = http(
        stack,
        "POST",
        f"/receipts/{receipt['receiptId']}/images/upload-url",
        {"contentType": "image/jpeg", "contentLength": len(photo)},
        token=token,
    ).body
    upload = urllib.request.Request(grant["uploadUrl"], data=photo, method=grant["method"], headers=grant["headers"])
    with urllib.request.urlopen(upload, timeout=10) as response:
        assert response.status == 200

    def receipt_with_thumbnail():
        current = http(stack, "GET", f"/receipts/{receipt['receiptId']}", token=token).body
        return current if current["thumbnailKeys"] else None

    listed = _eventually(receipt_with_thumbnail)
    assert listed and listed["imageKeys"] == [grant["imageKey"]]
    with urllib.request.urlopen(grant["thumbnailUrl"], timeout=10) as served:
        thumbnail = Image.open(io.BytesIO(served.read()))
        security = {name: served.headers[name] for name in ("Strict-Transport-Security", "X-Content-Type-Options")}
    assert thumbnail.size == (200, 300)
    assert security == {"Strict-Transport-Security": "max-age=31536000", "X-Content-Type-Options": "nosniff"}
    download = http(
        stack, "GET", f"/receipts/{receipt['receiptId']}/images/{grant['imageId']}/download-url", token=token
    ).body
    with urllib.request.urlopen(download["downloadUrl"], timeout=10) as original:
        assert original.read() == photo


def test_the_local_cdn_serves_thumbnails_only(stack):
    original = f"users/u/receipts/{uuid.uuid4()}/original/{uuid.uuid4()}.jpg"

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{stack.api_url}/_local/cdn/{original}", timeout=5)
    assert refused.value.code == 404
    missing = original.replace("/original/", "/thumbnail/")  # the thumbnail behaviour, nothing there
    with pytest.raises(urllib.error.HTTPError) as not_there:
        urllib.request.urlopen(f"{stack.api_url}/_local/cdn/{missing}", timeout=5)
    assert not_there.value.code == 404
    assert not_there.value.headers["X-Frame-Options"] == "SAMEORIGIN"  # the behaviour's headers policy


# -- sync ----------------------------------------------------------------------------------------


def test_two_offline_devices_push_then_pull_and_converge_with_every_user_edit_kept(stack):
    token = new_user_token(stack)
    receipt = http(
        stack,
        "POST",
        "/receipts",
        {
            "storeName": "Kotsovolos",
            "totalAmount": "100.00",
            "currency": "EUR",
            "purchaseDate": "2026-10-01",
            "category": "Electronics",
        },
        token=token,
    ).body
    baseline = http(stack, "POST", "/sync/pull", {}, token=token).body  # both devices start from here
    receipt_id = receipt["receiptId"]

    # Offline, each device edits its own fields, and both edit the store name.
    device_a = {
        "receiptId": receipt_id,
        "serverVersion": 1,
        "notes": "gift for Maria",
        "storeName": "Kotsovolos Athens",
        "userEditedFields": ["storeName"],
    }
    device_b = {
        "receiptId": receipt_id,
        "serverVersion": 1,
        "tags": ["warranty"],
        "totalAmount": "99.00",
        "storeName": "Kotsovolos Piraeus",
        "userEditedFields": ["totalAmount", "storeName"],
    }
    pushed_a = http(stack, "POST", "/sync/push", {"items": [device_a]}, token=token).body["results"][0]
    pushed_b = http(stack, "POST", "/sync/push", {"items": [device_b]}, token=token).body["results"][0]

    pulled_a = http(stack, "POST", "/sync/pull", {"lastSyncTimestamp": baseline["syncTimestamp"]}, token=token).body
    pulled_b = http(stack, "POST", "/sync/pull", {"lastSyncTimestamp": baseline["syncTimestamp"]}, token=token).body

    # B's base was stale, yet everything it sent is in the result: accepted, on top of A's notes.
    assert (pushed_a["outcome"], pushed_b["outcome"]) == ("accepted", "accepted")
    [item_a] = [item for item in pulled_a["items"] if item["receiptId"] == receipt_id]
    [item_b] = [item for item in pulled_b["items"] if item["receiptId"] == receipt_id]
    assert item_a == item_b  # converged
    assert item_a["notes"] == "gift for Maria"  # device A's edit
    assert item_a["tags"] == ["warranty"] and item_a["totalAmount"] == "99.00"  # device B's edits
    assert item_a["storeName"] == "Kotsovolos Piraeus"  # both edited it: the later push wins
    assert item_a["category"] == "Electronics" and item_a["serverVersion"] == 3
    assert set(item_a["userEditedFields"]) == {"storeName", "totalAmount"}


# -- OCR refinement ------------------------------------------------------------------------------


def test_refinement_runs_end_to_end_against_the_bedrock_stand_in(stack):
    token = new_user_token(stack)
    bought = utc_now().date() - dt.timedelta(days=19)
    ocr = f"LIDL ATHENS\n{bought:%d/%m/%Y}\nMILK 1,49\nBREAD 2,10\nTOTAL EUR 3,59\nVISA 4111 1111 1111 1111"
    receipt = http(
        stack,
        "POST",
        "/receipts",
        {"ocrRawText": ocr, "storeName": "My Lidl", "userEditedFields": ["storeName"]},
        token=token,
    ).body

    refined = http(stack, "POST", f"/receipts/{receipt['receiptId']}/refine", {}, token=token)

    assert refined.status == 200, refined.body
    assert refined.body["totalAmount"] == "3.59" and refined.body["purchaseDate"] == bought.isoformat()
    assert refined.body["storeName"] == "My Lidl"  # user-edited: kept
    assert refined.body["refinement"]["status"] == "refined"
    with urllib.request.urlopen(f"{stack.standins.url}/_requests", timeout=5) as response:
        sent = json.dumps(json.load(response)["requests"][-1])
    assert "4111" not in sent.replace("[card ****1111]", "")  # redacted before it left


def test_a_warranty_reminder_fired_on_demand_shows_up_in_the_local_notifications(stack):
    token = new_user_token(stack)
    settings = {
        "reminderDaysBefore": [7],
        "weeklyDigestEnabled": True,
        "timezone": "Pacific/Auckland",
        "locale": "en-NZ",
        "serverVersion": 0,
    }
    assert http(stack, "PUT", "/user/settings", settings, token=token).status == 200
    device = http(
        stack, "POST", "/user/devices", {"platform": "android", "token": f"fcm:{uuid.uuid4().hex}"}, token=token
    )
    assert device.status == 201, device.body
    # Dates from the stack's clock: a year's warranty bought a year ago, ending within a week.
    today = utc_now().date()
    purchased = add_months(today + dt.timedelta(days=7), -12)
    expiry = add_months(purchased, 12)  # the server derives it the same way: today + 4 to 7 days
    receipt = http(
        stack,
        "POST",
        "/receipts",
        {
            "storeName": "Noel Leeming",
            "purchaseDate": purchased.isoformat(),
            "warrantyMonths": 12,
            "totalAmount": "899.00",
            "currency": "NZD",
        },
        token=token,
    ).body
    assert receipt["warrantyExpiryDate"] == expiry.isoformat()
    # The 08:00 UTC run of the day 7 days before the expiry is that evening in Auckland.
    reminder_run = f"{expiry - dt.timedelta(days=7)}T08:00:00Z"
    last_monday = today - dt.timedelta(days=today.weekday())

    fired = http(stack, "POST", "/_local/schedules/WarrantyCheckerFunction", {"time": reminder_run})
    again = http(stack, "POST", "/_local/schedules/WarrantyCheckerFunction", {"time": reminder_run})
    digest = http(stack, "POST", "/_local/schedules/WeeklySummaryFunction", {"time": f"{last_monday}T09:00:00Z"})

    assert fired.status == 200 and fired.body["result"]["sent"] >= 1, fired.body
    assert again.body["result"]["sent"] == 0  # a rerun sends nothing twice
    assert digest.status == 200 and digest.body["result"]["sent"] >= 1, digest.body
    devices = http(stack, "GET", "/_local/notifications").body["devices"]
    received = [
        message
        for entry in devices
        for message in entry["notifications"]
        if message["data"].get("receiptId") == receipt["receiptId"]
    ]
    assert [message["data"]["type"] for message in received] == ["warrantyReminder", "weeklyDigest"]
    assert received[0]["notification"]["title"] == "Warranty ends in 7 days"


def test_the_example_client_shows_a_warranty_reminder_push(stack, capsys):
    [received] = example_client.run_reminders(stack.api_url)

    assert received["notification"]["title"] == "Warranty ends in 7 days"
    assert "Mega Electronics" in received["notification"]["body"]


def test_an_export_and_then_an_account_erasure_run_end_to_end(stack):
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    token = example_client.sign_up_and_sign_in(stack.config_document(), email, "Sup3r-Secret!")
    receipt = http(stack, "POST", "/receipts", {"storeName": "Kotsovolos", "totalAmount": "49.90"}, token=token).body

    queued = http(stack, "POST", "/user/export", {}, token=token)
    assert queued.status == 202, queued.body

    def finished():
        body = http(stack, "GET", f"/user/export/{queued.body['exportId']}", token=token).body
        return body if body["status"] in ("ready", "failed") else None

    status = _eventually(finished, timeout=30)
    assert status and status["status"] == "ready", status
    with urllib.request.urlopen(status["downloadUrl"], timeout=10) as response:  # the emulated S3
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    assert [r["receiptId"] for r in json.loads(archive.read("receipts.json"))] == [receipt["receiptId"]]

    deletion_token = http(stack, "POST", "/user/account/deletion-token", token=token).body["deletionToken"]
    unconfirmed = http(stack, "DELETE", "/user/account", token=token)  # the stage checks the header first
    assert unconfirmed.status == 400 and unconfirmed.body["error"] == "VALIDATION_ERROR", unconfirmed.body
    assert unconfirmed.body["message"] == "Missing required request parameters: [X-Deletion-Token]"
    assert http(stack, "GET", f"/receipts/{receipt['receiptId']}", token=token).status == 200
    erased = http(stack, "DELETE", "/user/account", token=token, headers={"x-deletion-token": deletion_token})

    assert erased.status == 202 and erased.body["status"] == "completed", erased.body
    assert erased.body["counts"]["table"] >= 2  # the receipt and the export job
    with pytest.raises(aws(stack, "cognito-idp").exceptions.UserNotFoundException):
        aws(stack, "cognito-idp").admin_get_user(UserPoolId=stack.user_pool_id, Username=email)
    assert http(stack, "GET", "/receipts", token=token).status == 401  # its token reaches nothing now
