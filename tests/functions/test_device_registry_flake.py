"""The device registry behind `make fuzz`'s intermittent ST302 ("Created resource not found",
POST /user/devices then a 404 for DELETE /user/devices/{deviceId}).

The cause: hypothesis reuses a token within a stateful scenario, once without a deviceId and then
with one. The same token on the same platform is the same device (docs/api.md), so the second
registration replaces the first id: the DELETE of that id is rightly a 404. local/fuzz_hooks.py
drops that failure, and only that one. Looking into it also found a real loss: at the cap, the
token's old entry was still counted when making room, so a second, unrelated device went too.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import sys
import types
import uuid
from typing import Any

import pytest

from tests.conftest import ApiClient, load_function
from tests.functions.test_user_settings import register, stored_devices
from tests.support import push

MAX_DEVICES = 10


@pytest.fixture
def user_settings(api_env, monkeypatch) -> ApiClient:
    applications = push.platform_applications()
    monkeypatch.setenv("FCM_PLATFORM_APPLICATION_ARN", applications["android"])
    monkeypatch.setenv("APNS_PLATFORM_APPLICATION_ARN", applications["ios"])
    return ApiClient(load_function("user_settings"))


def remove(client, device_id: str):
    return client.call("DELETE", "/user/devices/{deviceId}", path_parameters={"deviceId": device_id})


def test_the_fuzz_scenario_a_token_registered_under_a_device_id_replaces_its_derived_id(user_settings, table):
    # The failing run's chain: POST {ios, token}, its retry, the same token with a deviceId, DELETE.
    first = register(user_settings, token="JSigR1SvQnV0Mn", platform="ios")
    again = register(user_settings, token="JSigR1SvQnV0Mn", platform="ios")
    installation = str(uuid.uuid4())
    replaced = register(user_settings, token="JSigR1SvQnV0Mn", platform="ios", deviceId=installation)

    assert (first.status, again.status, replaced.status) == (201, 200, 201)
    assert again.body["deviceId"] == first.body["deviceId"]
    assert set(stored_devices(table)) == {installation}  # one token, one device: the newest id
    assert remove(user_settings, first.body["deviceId"]).status == 404  # removed by the replacement
    assert remove(user_settings, installation).status == 204


def test_moving_a_token_to_another_device_id_at_the_cap_evicts_no_other_device(user_settings, table):
    ids = [register(user_settings, token=f"fcm:device-token-{index:02d}").body["deviceId"] for index in range(10)]
    installation = str(uuid.uuid4())

    moved = register(user_settings, token="fcm:device-token-05", deviceId=installation)

    assert moved.status == 201
    devices = stored_devices(table)
    assert set(devices) == (set(ids) - {ids[5]}) | {installation}  # only the token's old entry went
    assert all(push.endpoint(device["endpointArn"]) is not None for device in devices.values())


def test_a_just_registered_device_is_never_evicted_even_within_one_millisecond(user_settings, table, monkeypatch):
    # Every registration at the same instant: "the oldest" is a tie, never the device just registered.
    moment = dt.datetime(2026, 3, 1, 10, 15, 30, 123000, tzinfo=dt.UTC)
    monkeypatch.setattr(user_settings.module, "utc_now", lambda: moment)
    for index in range(MAX_DEVICES + 3):
        device_id = register(user_settings, token=f"fcm:same-instant-{index:02d}").body["deviceId"]
        devices = stored_devices(table)
        assert device_id in devices
        assert len(devices) == min(index + 1, MAX_DEVICES)


@pytest.mark.parametrize("with_device_id", [False, True])
def test_registering_again_keeps_the_device_at_the_cap(user_settings, table, with_device_id):
    ids = [register(user_settings, token=f"fcm:device-token-{index:02d}").body["deviceId"] for index in range(10)]
    extra = {"deviceId": ids[0]} if with_device_id else {}

    again = register(user_settings, token="fcm:device-token-00", **extra)

    assert again.status == 200 and again.body["deviceId"] == ids[0]
    assert set(stored_devices(table)) == set(ids)
    assert remove(user_settings, ids[0]).status == 204


# -- local/fuzz_hooks.py drops that ST302, and only that one -------------------------------------


@pytest.fixture
def hooks(monkeypatch):
    """The module as schemathesis loads it (a stand-in records its hooks)."""
    monkeypatch.setitem(sys.modules, "schemathesis", types.SimpleNamespace(hook=lambda _: None))
    monkeypatch.delitem(sys.modules, "local.fuzz_hooks", raising=False)
    module = importlib.import_module("local.fuzz_hooks")
    yield module
    module.DROPPED.clear()
    module.CALLS.clear()
    module.REGISTRATIONS.clear()


def fuzz_call(hooks, method: str, path: str, status: int, body: Any = None, answer: Any = None, **params: str):
    label = {"POST": "POST /user/devices", "DELETE": "DELETE /user/devices/{deviceId}"}[method]
    case = types.SimpleNamespace(
        operation=types.SimpleNamespace(label=label),
        method=method,
        formatted_path=path,
        body=body,
        path_parameters=params,
    )
    response = types.SimpleNamespace(status_code=status, content=json.dumps(answer).encode())
    hooks.after_call(None, case, response)
    return case, response


def st302(hooks, case, response) -> bool:
    failure = types.SimpleNamespace(code="ST302", operation="POST /user/devices")
    return hooks.filter_failure(None, failure, case, response)


def test_the_hook_drops_the_404_of_a_device_its_token_replaced_and_keeps_any_other(hooks):
    derived, installation, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    token = {"platform": "ios", "token": "JSigR1SvQnV0Mn"}
    fuzz_call(hooks, "POST", "/user/devices", 201, token, {"deviceId": derived})
    fuzz_call(hooks, "POST", "/user/devices", 201, {**token, "platform": "android"}, {"deviceId": other})
    # Only another platform's registration of the token: the device is still there, a 404 is a bug.
    lost = fuzz_call(hooks, "DELETE", f"/user/devices/{derived}", 404, None, {}, deviceId=derived)
    assert st302(hooks, *lost) is True
    lost_other = fuzz_call(hooks, "DELETE", f"/user/devices/{other}", 404, None, {}, deviceId=other)
    assert st302(hooks, *lost_other) is True

    fuzz_call(
        hooks, "POST", "/user/devices", 201, {**token, "deviceId": installation.upper()}, {"deviceId": installation}
    )

    replaced = fuzz_call(hooks, "DELETE", f"/user/devices/{derived}", 404, None, {}, deviceId=derived)
    assert st302(hooks, *replaced) is False
    assert st302(hooks, *fuzz_call(hooks, "DELETE", "/x", 404, None, {}, deviceId=installation)) is True
    assert st302(hooks, *fuzz_call(hooks, "DELETE", "/x", 404, None, {}, deviceId=other)) is True
    # Registered again since under its own id: it is back, a 404 would be a bug.
    fuzz_call(hooks, "POST", "/user/devices", 201, {**token, "deviceId": derived}, {"deviceId": derived})
    assert st302(hooks, *fuzz_call(hooks, "DELETE", "/x", 404, None, {}, deviceId=derived)) is True
