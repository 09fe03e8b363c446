"""user-settings: versioned settings, and push devices backed by SNS platform endpoints."""

from __future__ import annotations

import uuid

import boto3
import pytest

from tests.conftest import ApiClient, DynamoCalls, assert_error_shape, load_function
from tests.support import push

SETTINGS = {
    "reminderDaysBefore": [7, 30, 1],
    "weeklyDigestEnabled": True,
    "timezone": "Europe/Berlin",
    "locale": "de-DE",
    "serverVersion": 0,
}
ANDROID_TOKEN = (
    "fcm:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ-hQMRKRrZuJAEcl7B338qju59zJMjw2DELjzEvxwYv7hH5Y"
    "npc1ODQ0aT4U4OFEeco8ohsN5PjL1iC2dNtk2BAokeMCg2ZXKqpc8FXKmhX94kIxQ"
)


@pytest.fixture
def applications(aws) -> dict[str, str]:
    return push.platform_applications()


@pytest.fixture
def user_settings(api_env, applications, monkeypatch) -> ApiClient:
    monkeypatch.setenv("FCM_PLATFORM_APPLICATION_ARN", applications["android"])
    monkeypatch.setenv("APNS_PLATFORM_APPLICATION_ARN", applications["ios"])
    return ApiClient(load_function("user_settings"))


def put_settings(client: ApiClient, user: str = "user-a", **changes):
    return client.call("PUT", "/user/settings", body={**SETTINGS, **changes}, user=user)


def register(client: ApiClient, token: str = ANDROID_TOKEN, platform: str = "android", user: str = "user-a", **extra):
    return client.call("POST", "/user/devices", body={"platform": platform, "token": token, **extra}, user=user)


def stored_devices(table, user: str = "user-a") -> dict:
    item = table.get_item(Key={"PK": f"USER#{user}", "SK": "META#SETTINGS"}).get("Item") or {}
    return item.get("devices") or {}


def endpoints_of(application_arn: str) -> list:
    return boto3.client("sns").list_endpoints_by_platform_application(PlatformApplicationArn=application_arn)[
        "Endpoints"
    ]


# -- settings -----------------------------------------------------------------------------------


def test_a_new_user_gets_the_defaults_at_version_0(user_settings):
    response = user_settings.call("GET", "/user/settings")

    assert response.status == 200
    assert response.body == {
        "reminderDaysBefore": [30, 7, 1],
        "weeklyDigestEnabled": False,
        "timezone": "UTC",
        "locale": "en",
        "duplicateDetection": "flag",
        "inboundAllowedSenders": [],
        "serverVersion": 0,
        "devices": [],
    }


def test_saving_settings_versions_them_and_sorts_the_offsets(user_settings):
    first = put_settings(user_settings)
    second = put_settings(user_settings, serverVersion=1, reminderDaysBefore=[90], weeklyDigestEnabled=False)

    assert first.status == 200 and first.body["serverVersion"] == 1
    assert first.body["reminderDaysBefore"] == [30, 7, 1]
    assert second.body["serverVersion"] == 2 and second.body["reminderDaysBefore"] == [90]
    assert user_settings.call("GET", "/user/settings").body == {**second.body}


def test_a_save_is_one_conditional_update(user_settings):
    calls = DynamoCalls(user_settings.module.store.table.client)

    put_settings(user_settings)

    assert calls.counts == {"UpdateItem": 1}


@pytest.mark.parametrize("stale_version", [0, 1, 9])
def test_a_stale_version_is_409_with_the_current_settings_and_changes_nothing(user_settings, stale_version):
    put_settings(user_settings)
    put_settings(user_settings, serverVersion=1, timezone="Asia/Tokyo")

    response = put_settings(user_settings, serverVersion=stale_version, timezone="America/New_York")

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"]["timezone"] == "Asia/Tokyo" and response.body["current"]["serverVersion"] == 2
    assert user_settings.call("GET", "/user/settings").body["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize(
    "changes",
    [
        {"reminderDaysBefore": [5]},  # not an allowed offset
        {"reminderDaysBefore": [7, 7]},
        {"reminderDaysBefore": [0, 1, 3, 7, 14, 30, 60, 90, 7]},
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": "../../etc/passwd"},
        {"timezone": "EST5EDT,M3.2.0,M11.1.0"},
        {"locale": "english please"},
        {"serverVersion": -1},
        {"weeklyDigestEnabled": "yes"},
        {"unknownField": 1},
    ],
)
def test_invalid_settings_are_400_and_change_nothing(user_settings, changes):
    put_settings(user_settings)

    response = put_settings(user_settings, **{"serverVersion": 1, **changes})

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert user_settings.call("GET", "/user/settings").body["serverVersion"] == 1


def test_a_missing_field_is_400(user_settings):
    body = {name: value for name, value in SETTINGS.items() if name != "timezone"}

    assert_error_shape(user_settings.call("PUT", "/user/settings", body=body), 400, "VALIDATION_ERROR")


def test_opting_in_to_the_digest_puts_the_settings_in_the_digest_index_and_opting_out_removes_them(
    user_settings, table
):
    put_settings(user_settings, weeklyDigestEnabled=True)
    opted_in = table.query(
        IndexName="ByScheduledJob",
        KeyConditionExpression="jobPK = :pk",
        ExpressionAttributeValues={":pk": "DIGEST#WEEKLY"},
    )["Items"]
    put_settings(user_settings, serverVersion=1, weeklyDigestEnabled=False)
    opted_out = table.query(
        IndexName="ByScheduledJob",
        KeyConditionExpression="jobPK = :pk",
        ExpressionAttributeValues={":pk": "DIGEST#WEEKLY"},
    )["Items"]

    assert [item["PK"] for item in opted_in] == ["USER#user-a"]
    assert opted_in[0]["timezone"] == "Europe/Berlin"  # projected: the digest reads nothing else
    assert opted_out == []


def test_saving_settings_keeps_the_registered_devices(user_settings, table):
    register(user_settings)

    put_settings(user_settings)

    assert len(stored_devices(table)) == 1
    assert len(user_settings.call("GET", "/user/settings").body["devices"]) == 1


def test_users_never_see_each_others_settings(user_settings):
    put_settings(user_settings, user="user-a", timezone="Asia/Tokyo")

    assert user_settings.call("GET", "/user/settings", user="user-b").body["timezone"] == "UTC"


# -- devices ------------------------------------------------------------------------------------


def test_registering_a_device_creates_an_enabled_endpoint_and_stores_it_with_the_settings(user_settings, table):
    response = register(user_settings)

    assert response.status == 201
    assert set(response.body) == {"deviceId", "platform", "registeredAt", "updatedAt"}
    [device] = stored_devices(table).values()
    assert device["platform"] == "android"
    endpoint = push.endpoint(device["endpointArn"])
    assert endpoint.token == ANDROID_TOKEN and endpoint.enabled
    assert ANDROID_TOKEN not in str(device)  # only a hash of the token is kept
    assert user_settings.call("GET", "/user/settings").body["devices"] == [response.body]


def test_the_same_token_registered_again_is_the_same_device_and_endpoint(user_settings, table, applications):
    first = register(user_settings)
    again = register(user_settings)

    assert again.status == 200 and again.body["deviceId"] == first.body["deviceId"]
    assert len(stored_devices(table)) == 1
    assert len(endpoints_of(applications["android"])) == 1


def test_a_disabled_endpoint_is_re_enabled_on_registration(user_settings, table):
    register(user_settings)
    [device] = stored_devices(table).values()
    push.disable(device["endpointArn"])

    register(user_settings)

    assert push.endpoint(device["endpointArn"]).enabled


def test_a_refreshed_token_for_the_same_device_updates_its_endpoint(user_settings, table):
    device_id = str(uuid.uuid4())
    register(user_settings, deviceId=device_id)
    [old] = stored_devices(table).values()

    response = register(user_settings, token="fcm:refreshed-token-0001", deviceId=device_id)

    assert response.status == 200 and response.body["deviceId"] == device_id
    [new] = stored_devices(table).values()
    assert new["endpointArn"] == old["endpointArn"]
    assert push.endpoint(new["endpointArn"]).attributes["Token"] == "fcm:refreshed-token-0001"


def test_an_endpoint_deleted_in_sns_is_recreated(user_settings, table):
    register(user_settings)
    [device] = stored_devices(table).values()
    boto3.client("sns").delete_endpoint(EndpointArn=device["endpointArn"])

    register(user_settings)

    [again] = stored_devices(table).values()
    assert push.endpoint(again["endpointArn"]) is not None


def test_a_token_registered_by_another_user_moves_to_the_new_user(user_settings, table):
    register(user_settings, user="user-a")

    response = register(user_settings, user="user-b")

    assert response.status == 201
    assert stored_devices(table, "user-a") == {}  # user-a no longer receives this phone's pushes
    [device] = stored_devices(table, "user-b").values()
    assert push.endpoint(device["endpointArn"]).attributes["CustomUserData"] == "user-b"


def test_a_platform_without_credentials_is_503_and_stores_nothing(api_env, applications, monkeypatch, table):
    monkeypatch.setenv("FCM_PLATFORM_APPLICATION_ARN", applications["android"])
    monkeypatch.delenv("APNS_PLATFORM_APPLICATION_ARN", raising=False)
    client = ApiClient(load_function("user_settings"))

    response = register(client, token="a" * 64, platform="ios")

    assert_error_shape(response, 503, "PUSH_UNAVAILABLE")
    assert stored_devices(table) == {}


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "windows", "token": ANDROID_TOKEN},
        {"platform": "android", "token": "short"},
        {"platform": "android", "token": "has spaces in it"},
        {"platform": "android"},
        {"platform": "android", "token": ANDROID_TOKEN, "deviceId": "not-a-uuid"},
        {"platform": "android", "token": ANDROID_TOKEN, "userId": "user-b"},
    ],
)
def test_an_invalid_registration_is_400_and_creates_nothing(user_settings, table, applications, body):
    response = user_settings.call("POST", "/user/devices", body=body)

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert stored_devices(table) == {}
    assert endpoints_of(applications["android"]) == []


def test_removing_a_device_deletes_its_endpoint_and_keeps_the_others(user_settings, table):
    kept = register(user_settings, token="fcm:kept-device-token").body["deviceId"]
    removed = register(user_settings).body["deviceId"]
    arn = stored_devices(table)[removed]["endpointArn"]

    response = user_settings.call("DELETE", "/user/devices/{deviceId}", path_parameters={"deviceId": removed})

    assert response.status == 204
    assert set(stored_devices(table)) == {kept}
    assert push.endpoint(arn) is None


def test_removing_a_device_again_is_404_as_documented_and_changes_nothing(user_settings, table):
    kept = register(user_settings, token="fcm:kept-device-token").body["deviceId"]
    removed = register(user_settings).body["deviceId"]
    path = {"deviceId": removed}
    assert user_settings.call("DELETE", "/user/devices/{deviceId}", path_parameters=path).status == 204

    again = user_settings.call("DELETE", "/user/devices/{deviceId}", path_parameters=path)
    in_upper_case = user_settings.call(
        "DELETE", "/user/devices/{deviceId}", path_parameters={"deviceId": removed.upper()}
    )

    assert_error_shape(again, 404, "NOT_FOUND")
    assert_error_shape(in_upper_case, 404, "NOT_FOUND")
    assert set(stored_devices(table)) == {kept}


@pytest.mark.parametrize("device_id", ["3f1e2d4c-5b6a-4978-8a9b-0c1d2e3f4a5b", "not-a-uuid", "devices.x"])
def test_removing_an_unknown_device_is_404(user_settings, device_id):
    register(user_settings)

    response = user_settings.call("DELETE", "/user/devices/{deviceId}", path_parameters={"deviceId": device_id})

    assert_error_shape(response, 404, "NOT_FOUND")


def test_another_users_device_cannot_be_removed(user_settings, table):
    device_id = register(user_settings, user="user-a").body["deviceId"]

    response = user_settings.call(
        "DELETE", "/user/devices/{deviceId}", path_parameters={"deviceId": device_id}, user="user-b"
    )

    assert_error_shape(response, 404, "NOT_FOUND")
    assert device_id in stored_devices(table, "user-a")


def test_the_eleventh_device_replaces_the_longest_silent_one(user_settings, table):
    first = register(user_settings, token="fcm:device-token-00").body["deviceId"]
    first_arn = stored_devices(table)[first]["endpointArn"]
    for index in range(1, 11):
        register(user_settings, token=f"fcm:device-token-{index:02d}")

    devices = stored_devices(table)

    assert len(devices) == 10 and first not in devices
    assert push.endpoint(first_arn) is None
