"""The update-expression builder used by every conditional write."""

from __future__ import annotations

from receipt_vault.dynamo import CopyOf, Increment, update_expression


def test_set_copy_increment_and_remove_use_their_own_placeholders():
    expression, names, values = update_expression(
        {"status": "deleted", "previousStatus": CopyOf("status"), "serverVersion": Increment(1)},
        ["warrantyPK"],
    )

    assert expression == "SET #u0 = :u0, #u1 = #u2, #u3 = if_not_exists(#u3, :u2) + :u1 REMOVE #u4"
    assert names == {
        "#u0": "status",
        "#u1": "previousStatus",
        "#u2": "status",
        "#u3": "serverVersion",
        "#u4": "warrantyPK",
    }
    assert values == {":u0": "deleted", ":u1": 1, ":u2": 0}  # a counter starts from 0


def test_a_set_addition_is_an_add_clause_after_set_and_remove():
    from receipt_vault.dynamo import AddToSet

    expression, names, values = update_expression({"notes": "x", "filledFields": AddToSet(frozenset({"a"}))}, ["tags"])

    assert expression == "SET #u0 = :u0 REMOVE #u2 ADD #u1 :u1"
    assert names == {"#u0": "notes", "#u1": "filledFields", "#u2": "tags"} and values[":u1"] == {"a"}


def test_an_attribute_both_set_and_removed_is_only_set():
    expression, names, _ = update_expression({"category": "x"}, ["category", "notes"])

    assert expression == "SET #u0 = :u0 REMOVE #u1"
    assert names["#u1"] == "notes"


def test_an_update_with_only_removals_and_copies_sends_no_empty_value_map(aws):
    import boto3
    from boto3.dynamodb.conditions import Attr

    from receipt_vault.dynamo import DynamoTable

    client = boto3.client("dynamodb")
    client.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table = DynamoTable(client, "t")
    table.put_item({"PK": "a", "status": "active", "note": "x"})

    item = table.update_item({"PK": "a"}, {"previous": CopyOf("status")}, ["note"], Attr("PK").exists())

    assert item == {"PK": "a", "status": "active", "previous": "active"}
