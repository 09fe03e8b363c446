"""category-handler: defaults plus a versioned custom list per user."""

from __future__ import annotations

import pytest

from tests.conftest import ApiClient, DynamoCalls, assert_error_shape, load_function


@pytest.fixture
def categories(api_env) -> ApiClient:
    return ApiClient(load_function("category_handler"))


def put(client: ApiClient, custom: list[str], version: int, user: str = "user-a"):
    return client.call("PUT", "/categories", body={"custom": custom, "version": version}, user=user)


def test_a_new_user_gets_the_defaults_and_an_empty_list_at_version_0(categories):
    response = categories.call("GET", "/categories")

    assert response.status == 200
    assert "Electronics" in response.body["defaults"]
    assert response.body["custom"] == [] and response.body["version"] == 0


def test_saving_from_version_0_creates_version_1_with_one_put(categories):
    calls = DynamoCalls(categories.module.categories.store.table.client)

    response = put(categories, ["Kids", "Pets"], 0)

    assert response.status == 200
    assert response.body["custom"] == ["Kids", "Pets"] and response.body["version"] == 1
    assert calls.counts == {"PutItem": 1}
    assert categories.call("GET", "/categories").body["custom"] == ["Kids", "Pets"]


def test_saving_on_the_current_version_replaces_the_list_with_one_update(categories):
    put(categories, ["Kids"], 0)
    calls = DynamoCalls(categories.module.categories.store.table.client)

    response = put(categories, ["Kids", "Garden tools"], 1)

    assert response.body["version"] == 2
    assert calls.counts == {"UpdateItem": 1}


@pytest.mark.parametrize("stale_version", [0, 1, 7])
def test_a_stale_version_is_409_with_the_current_list_and_changes_nothing(categories, stale_version):
    put(categories, ["Kids"], 0)
    put(categories, ["Kids", "Pets"], 1)

    response = put(categories, ["Overwritten"], stale_version)

    assert_error_shape(response, 409, "VERSION_CONFLICT")
    assert response.body["current"] == {**response.body["current"], "custom": ["Kids", "Pets"], "version": 2}
    assert categories.call("GET", "/categories").body["custom"] == ["Kids", "Pets"]


def test_a_version_for_a_list_that_was_never_saved_is_409(categories):
    assert_error_shape(put(categories, ["Kids"], 3), 409, "VERSION_CONFLICT")


@pytest.mark.parametrize(
    "custom",
    [
        ["Kids", "kids"],  # unique ignoring case
        ["x" * 51],
        [""],
        ["   "],
        [f"c{i}" for i in range(51)],
        # Blank once trimmed, as the contract's pattern says: any Unicode white space only.
        ["\u00a0"],
        ["\u3000\u2003"],
        ["\t"],
        # The length as sent, as API Gateway's model counts it: 50 characters with a space around.
        [" " + "x" * 50],
        ["x" * 50 + "\u00a0"],
        ["line\nbreak"],
        ["bell\x07"],
        ["c1\x85"],
        ["\u202eevil"],
    ],
)
def test_an_invalid_list_is_400_and_changes_nothing(categories, custom):
    response = put(categories, custom, 0)

    assert_error_shape(response, 400, "VALIDATION_ERROR")
    assert categories.call("GET", "/categories").body["version"] == 0


def test_a_name_is_stored_trimmed_and_one_of_49_characters_may_have_a_space_around_it(categories):
    response = put(categories, ["  Kids\u00a0", "\u3000" + "x" * 49, "Caf\u00e9 & Bar"], 0)

    assert response.status == 200, response.body
    assert response.body["custom"] == ["Kids", "x" * 49, "Caf\u00e9 & Bar"]


def test_fifty_categories_of_fifty_characters_are_accepted(categories):
    custom = [f"{i:02d}" + "x" * 48 for i in range(50)]

    assert put(categories, custom, 0).status == 200


def test_each_user_has_their_own_categories(categories):
    put(categories, ["Kids"], 0, user="user-a")

    other = categories.call("GET", "/categories", user="user-b")

    assert other.body["custom"] == [] and other.body["version"] == 0
    assert put(categories, ["Pets"], 0, user="user-b").status == 200
    assert categories.call("GET", "/categories", user="user-a").body["custom"] == ["Kids"]
