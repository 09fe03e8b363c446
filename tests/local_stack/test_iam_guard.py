"""local.iam's guard end to end: real boto3 clients, in-process moto, small hand-written roles.

A call the role allows reaches moto; one it does not fails as AWS fails it (the service's
error code, status and message), changes nothing, and writes one line on stderr.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.config import Config
from botocore.exceptions import ClientError

from local import iam
from local.cfn_template import load_template
from receipt_vault.s3_presigner import S3Presigner, default_credentials

ACCOUNT = "123456789012"
REGION: Final = "eu-west-1"
PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": "guard-test", "AWS::Partition": "aws"}
PRINCIPAL = f"arn:aws:sts::{ACCOUNT}:assumed-role/notes-role/notes-function"
TABLE = "notes"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
BUCKET = "notes-bucket"
MARKERS_ONLY = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ACTIVE#*"]}}  # as the template writes it

# Made once, at import, as a function's module-level clients are (and a client costs ~0.1 s to make).
DYNAMODB = boto3.client("dynamodb", region_name=REGION)
NOTES = boto3.resource("dynamodb", region_name=REGION).Table(TABLE)
S3 = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
SNS = boto3.client("sns", region_name=REGION)
SQS = boto3.client("sqs", region_name=REGION)
KMS = boto3.client("kms", region_name=REGION)


def resolve(value: Any) -> Any:
    """Pseudo parameters, in !Ref and !Sub: all these templates need."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return PSEUDO[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return re.sub(r"\$\{([^}]+)\}", lambda found: PSEUDO[found.group(1)], value["Fn::Sub"])
    if isinstance(value, dict):
        return {name: resolve(item) for name, item in value.items()}
    if isinstance(value, list):
        return [resolve(item) for item in value]
    return value


def template(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "NotesRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "notes-role",
                    "Policies": [{"PolicyName": "notes", "PolicyDocument": {"Statement": list(statements)}}],
                },
            },
            "NotesFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"FunctionName": "notes-function", "Role": {"Fn::GetAtt": ["NotesRole", "Arn"]}},
            },
        }
    }


def guard(*statements: dict[str, Any]) -> iam.RoleGuard:
    return iam.guard_for(template(*statements), "NotesFunction", resolve)


def allow(actions: str | list[str], resources: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def denied(call: Any, *args: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value


def error_of(error: ClientError) -> tuple[str, int, str]:
    return (
        error.response["Error"]["Code"],
        error.response["ResponseMetadata"]["HTTPStatusCode"],
        str(error.response["Error"]["Message"]),
    )


def no_policy_allows(action: str, resource: str | None) -> str:
    on = "" if resource is None else f" on resource: {resource}"
    why = f"because no identity-based policy allows the {action} action"
    return f"User: {PRINCIPAL} is not authorized to perform: {action}{on} {why}"


def denial_lines(capsys) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.fixture
def notes_table(aws) -> Any:
    """A table with a global index on another partition key, as ByWarrantyExpiry is."""
    DYNAMODB.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK", "owner")],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByOwner",
                "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return NOTES


@pytest.fixture
def bucket(aws) -> str:
    S3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return BUCKET


def stored(table: Any, pk: str, sk: str = "x") -> dict[str, Any] | None:
    return table.get_item(Key={"PK": pk, "SK": sk}).get("Item")


def object_keys(name: str = BUCKET) -> set[str]:
    return {item["Key"] for item in S3.list_objects_v2(Bucket=name).get("Contents", [])}


# -- allowed and denied, per service ----------------------------------------------------------------


def test_a_call_the_role_allows_reaches_moto(notes_table):
    with iam.enforce(guard(allow(["dynamodb:PutItem", "dynamodb:GetItem"], TABLE_ARN))):
        DYNAMODB.put_item(TableName=TABLE, Item={"PK": {"S": "USER#a"}, "SK": {"S": "x"}, "n": {"S": "1"}})
        read = DYNAMODB.get_item(TableName=TABLE, Key={"PK": {"S": "USER#a"}, "SK": {"S": "x"}})

    assert read["Item"]["n"] == {"S": "1"}
    assert stored(notes_table, "USER#a") == {"PK": "USER#a", "SK": "x", "n": "1"}


def test_dynamodb_denies_with_access_denied_exception_400_and_writes_nothing(notes_table):
    with iam.enforce(guard(allow("dynamodb:GetItem", TABLE_ARN))):
        error = denied(DYNAMODB.put_item, TableName=TABLE, Item={"PK": {"S": "USER#a"}, "SK": {"S": "x"}})

    assert error_of(error) == ("AccessDeniedException", 400, no_policy_allows("dynamodb:PutItem", TABLE_ARN))
    assert stored(notes_table, "USER#a") is None


def test_s3_denies_with_access_denied_403_naming_the_object_in_quotes_and_stores_nothing(bucket):
    with iam.enforce(guard(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))):
        error = denied(S3.put_object, Bucket=bucket, Key="notes/a.txt", Body=b"a")

    resource = f'"arn:aws:s3:::{bucket}/notes/a.txt"'
    assert error_of(error) == ("AccessDenied", 403, no_policy_allows("s3:PutObject", resource))
    assert object_keys() == set()


def test_sns_denies_with_authorization_error_403_as_sns_writes_its_actions_and_delivers_nothing(aws):
    topic = SNS.create_topic(Name="notes-topic")["TopicArn"]
    queue = SQS.create_queue(QueueName="notes-subscriber")["QueueUrl"]
    queue_arn = SQS.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    SNS.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    with iam.enforce(guard(allow("sns:Subscribe", topic))):
        error = denied(SNS.publish, TopicArn=topic, Message="hello")

    assert isinstance(error, SNS.exceptions.AuthorizationErrorException)
    assert error_of(error) == ("AuthorizationError", 403, no_policy_allows("SNS:Publish", topic))
    assert SQS.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []) == []


def test_sqs_denies_with_access_denied_403_and_queues_nothing(aws):
    queue = SQS.create_queue(QueueName="notes-queue")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:notes-queue"

    with iam.enforce(guard(allow("sqs:ReceiveMessage", queue_arn))):
        error = denied(SQS.send_message, QueueUrl=queue, MessageBody="hello")
        assert SQS.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []) == []

    assert error_of(error) == ("AccessDenied", 403, no_policy_allows("sqs:SendMessage", queue_arn))
    assert SQS.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []) == []


def test_an_explicit_deny_is_named_as_such(notes_table):
    role = guard(allow("dynamodb:*", TABLE_ARN), {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"})

    with iam.enforce(role):
        error = denied(DYNAMODB.delete_item, TableName=TABLE, Key={"PK": {"S": "a"}, "SK": {"S": "x"}})

    assert error_of(error)[2] == (
        f"User: {PRINCIPAL} is not authorized to perform: dynamodb:DeleteItem on resource: {TABLE_ARN} "
        "with an explicit deny in an identity-based policy"
    )


def test_an_action_without_resource_level_permissions_is_named_without_a_resource(aws):
    with iam.enforce(guard(allow("sqs:SendMessage", "*"))):
        error = denied(SQS.list_queues)

    assert error_of(error) == ("AccessDenied", 403, no_policy_allows("sqs:ListQueues", None))


# -- the denial's log line --------------------------------------------------------------------------


def test_a_denial_writes_one_json_line_without_personal_data(bucket, capsys):
    user, receipt, image = "7d3f9a2e-1c4b-4e8a-9b6d-2f5e8c1a4b70", "3f0c9a2e-5d6b", "0b7e7f5a.jpg"
    key = f"users/{user}/receipts/{receipt}/original/{image}"
    capsys.readouterr()

    with iam.enforce(guard(allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*"))):
        denied(S3.get_object, Bucket=bucket, Key=key)

    [line] = denial_lines(capsys)
    shape = f"arn:aws:s3:::{bucket}/users/*/receipts/*/original/*"
    assert {name: line[name] for name in ("level", "message", "function", "role", "service", "operation")} == {
        "level": "ERROR",
        "message": "AccessDenied",
        "function": "notes-function",
        "role": "NotesRole",
        "service": "s3",
        "operation": "GetObject",
    }
    assert line["action"] == "s3:GetObject" and line["resource"] == shape
    assert line["missing"] == {"Effect": "Allow", "Action": "s3:GetObject", "Resource": shape}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])
    assert user not in json.dumps(line) and receipt not in json.dumps(line) and image not in json.dumps(line)


def test_an_explicit_denial_logs_the_statements_that_denied(notes_table, capsys):
    role = guard(
        allow("dynamodb:*", TABLE_ARN),
        {"Sid": "NoDeletes", "Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"},
    )
    capsys.readouterr()

    with iam.enforce(role):
        denied(DYNAMODB.delete_item, TableName=TABLE, Key={"PK": {"S": "a"}, "SK": {"S": "x"}})

    [line] = denial_lines(capsys)
    assert line["deniedBy"] == ["notes/NoDeletes"] and "missing" not in line


@pytest.mark.parametrize(
    ("resource", "logged"),
    [
        ("arn:aws:s3:::b/users/7d3f/receipts/3f0c/thumbnail/0b7e.jpg", "arn:aws:s3:::b/users/*/receipts/*/thumbnail/*"),
        ("arn:aws:s3:::b/exports/7d3f/e1.zip", "arn:aws:s3:::b/exports/*/*"),
        ("arn:aws:s3:::b", "arn:aws:s3:::b"),
        (
            "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/receiptvault-test-fcm/0b7e7f5a-93b5",
            "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/receiptvault-test-fcm/*",
        ),
        (TABLE_ARN, TABLE_ARN),
        ("*", "*"),
    ],
)
def test_the_logged_resource_keeps_the_shape_and_loses_the_ids(resource, logged):
    assert iam.loggable_resource(resource) == logged


# -- DynamoDB: the leading keys of every item ------------------------------------------------------


def markers_only(*actions: str) -> iam.RoleGuard:
    return guard(allow(list(actions), [TABLE_ARN, f"{TABLE_ARN}/index/*"], Condition=MARKERS_ONLY))


def test_get_item_is_allowed_by_its_key_partition_only(notes_table):
    notes_table.put_item(Item={"PK": "ACTIVE#1", "SK": "x"})
    notes_table.put_item(Item={"PK": "USER#a", "SK": "x"})

    with iam.enforce(markers_only("dynamodb:GetItem")):  # the resource API: values serialized before the check
        assert NOTES.get_item(Key={"PK": "ACTIVE#1", "SK": "x"})["Item"]["PK"] == "ACTIVE#1"
        error = denied(NOTES.get_item, Key={"PK": "USER#a", "SK": "x"})

    assert error_of(error)[:2] == ("AccessDeniedException", 400)
    assert "dynamodb:GetItem on resource: " + TABLE_ARN in error_of(error)[2]


def test_query_is_allowed_by_the_partition_of_its_key_condition_on_the_table_or_an_index(notes_table):
    notes_table.put_item(Item={"PK": "ACTIVE#1", "SK": "x", "owner": "ACTIVE#owner"})
    notes_table.put_item(Item={"PK": "USER#a", "SK": "x", "owner": "USER#owner"})

    with iam.enforce(markers_only("dynamodb:Query")):
        expression = {"KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)"}
        values = {":sk": {"S": "x"}}
        mine = DYNAMODB.query(
            TableName=TABLE, **expression, ExpressionAttributeValues={**values, ":pk": {"S": "ACTIVE#1"}}
        )
        theirs = denied(
            DYNAMODB.query, TableName=TABLE, **expression, ExpressionAttributeValues={**values, ":pk": {"S": "USER#a"}}
        )
        by_resource = denied(NOTES.query, KeyConditionExpression=Key("PK").eq("USER#a"))  # #n0 = :v0
        owned = NOTES.query(IndexName="ByOwner", KeyConditionExpression=Key("owner").eq("ACTIVE#owner"))
        other = denied(NOTES.query, IndexName="ByOwner", KeyConditionExpression=Key("owner").eq("USER#owner"))

    assert [item["PK"]["S"] for item in mine["Items"]] == ["ACTIVE#1"]
    assert [item["PK"] for item in owned["Items"]] == ["ACTIVE#1"]
    for error in (theirs, by_resource):
        assert error_of(error) == ("AccessDeniedException", 400, no_policy_allows("dynamodb:Query", TABLE_ARN))
    assert error_of(other)[2] == no_policy_allows("dynamodb:Query", f"{TABLE_ARN}/index/ByOwner")


def test_batch_write_item_needs_every_items_partition_allowed_and_writes_none_otherwise(notes_table):
    def puts(*partitions: str) -> dict[str, Any]:
        return {TABLE: [{"PutRequest": {"Item": {"PK": {"S": pk}, "SK": {"S": "x"}}}} for pk in partitions]}

    with iam.enforce(markers_only("dynamodb:BatchWriteItem")):
        DYNAMODB.batch_write_item(RequestItems=puts("ACTIVE#1", "ACTIVE#2"))
        error = denied(DYNAMODB.batch_write_item, RequestItems=puts("ACTIVE#3", "USER#a"))
        deletes = {TABLE: [{"DeleteRequest": {"Key": {"PK": {"S": "USER#b"}, "SK": {"S": "x"}}}}]}
        denied(DYNAMODB.batch_write_item, RequestItems=deletes)

    assert error_of(error)[2] == no_policy_allows("dynamodb:BatchWriteItem", TABLE_ARN)
    assert stored(notes_table, "ACTIVE#1") and stored(notes_table, "ACTIVE#2")
    assert stored(notes_table, "ACTIVE#3") is None and stored(notes_table, "USER#a") is None


def test_each_item_of_a_transaction_is_authorised_as_its_own_action_and_a_refusal_writes_none(notes_table):
    notes_table.put_item(Item={"PK": "ACTIVE#old", "SK": "x"})

    def put(pk: str) -> dict[str, Any]:
        return {"Put": {"TableName": TABLE, "Item": {"PK": {"S": pk}, "SK": {"S": "x"}}}}

    delete = {"Delete": {"TableName": TABLE, "Key": {"PK": {"S": "ACTIVE#old"}, "SK": {"S": "x"}}}}

    with iam.enforce(markers_only("dynamodb:PutItem")):  # no dynamodb:TransactWriteItems needed
        DYNAMODB.transact_write_items(TransactItems=[put("ACTIVE#1"), put("ACTIVE#2")])
        other_partition = denied(DYNAMODB.transact_write_items, TransactItems=[put("ACTIVE#3"), put("USER#a")])
        other_action = denied(DYNAMODB.transact_write_items, TransactItems=[put("ACTIVE#4"), delete])

    assert error_of(other_partition)[2] == no_policy_allows("dynamodb:PutItem", TABLE_ARN)
    assert error_of(other_action)[2] == no_policy_allows("dynamodb:DeleteItem", TABLE_ARN)
    assert stored(notes_table, "ACTIVE#1") and stored(notes_table, "ACTIVE#2") and stored(notes_table, "ACTIVE#old")
    assert not any(stored(notes_table, pk) for pk in ("ACTIVE#3", "USER#a", "ACTIVE#4"))


# -- S3: DeleteObjects, versions, SSE-KMS, pre-signed URLs -----------------------------------------


def test_delete_objects_deletes_the_allowed_keys_and_lists_each_refused_one_under_errors(bucket, capsys):
    for key in ("public/a", "public/b", "private/c", "private/d"):
        S3.put_object(Bucket=bucket, Key=key, Body=b"x")
    capsys.readouterr()
    objects = [{"Key": key} for key in ("public/a", "private/c", "public/b", "private/d")]

    with iam.enforce(guard(allow("s3:DeleteObject", f"arn:aws:s3:::{bucket}/public/*"))):
        response = S3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        quiet = S3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "private/c"}], "Quiet": True})

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(deleted["Key"] for deleted in response["Deleted"]) == ["public/a", "public/b"]
    assert sorted((e["Key"], e["Code"], e["Message"]) for e in response["Errors"]) == [
        ("private/c", "AccessDenied", "Access Denied"),
        ("private/d", "AccessDenied", "Access Denied"),
    ]
    assert "Deleted" not in quiet and [e["Key"] for e in quiet["Errors"]] == ["private/c"]
    assert object_keys() == {"private/c", "private/d"}
    assert [(line["operation"], line["action"]) for line in denial_lines(capsys)] == [
        ("DeleteObjects", "s3:DeleteObject")
    ] * 3


def test_deleting_a_version_needs_s3_delete_object_version(bucket):
    S3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = S3.put_object(Bucket=bucket, Key="public/a", Body=b"x")["VersionId"]
    only_current = guard(allow("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*"))

    with iam.enforce(only_current):
        response = S3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "public/a", "VersionId": version}]})
        error = denied(S3.delete_object, Bucket=bucket, Key="public/a", VersionId=version)

    assert response["Errors"] == [
        {"Key": "public/a", "VersionId": version, "Code": "AccessDenied", "Message": "Access Denied"}
    ]
    assert response.get("Deleted", []) == []
    assert "s3:DeleteObjectVersion" in error_of(error)[2]
    assert [v["VersionId"] for v in S3.list_object_versions(Bucket=bucket)["Versions"]] == [version]


@pytest.fixture
def encrypted_bucket(bucket) -> str:
    """The bucket encrypted as the template's images bucket is: SSE-KMS with a customer key."""
    key_arn = KMS.create_key(Description="data key")["KeyMetadata"]["Arn"]
    [rule] = load_template()["Resources"]["ImagesBucket"]["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    encryption: Any = {
        "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": rule["BucketKeyEnabled"]}]
    }
    S3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=encryption)
    return key_arn


OBJECTS = allow(["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::{BUCKET}/*")


def assert_refused(error: ClientError, action: str, key_arn: str) -> None:
    message = error_of(error)[2]
    assert message.startswith(f"User: {PRINCIPAL} is not authorized to perform: {action} on resource: ")
    assert key_arn in message and message.endswith(f"because no identity-based policy allows the {action} action")


def through_s3(actions: str | list[str], key_arn: str) -> dict[str, Any]:
    return allow(actions, key_arn, Condition={"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}})


def test_writing_into_an_sse_kms_bucket_needs_kms_generate_data_key_on_its_key(encrypted_bucket, capsys):
    capsys.readouterr()

    with iam.enforce(guard(OBJECTS)):
        error = denied(S3.put_object, Bucket=BUCKET, Key="notes/a.txt", Body=b"a")
    with iam.enforce(
        guard(
            OBJECTS,
            allow(
                "kms:GenerateDataKey",
                encrypted_bucket,
                Condition={"StringEquals": {"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"}},
            ),
        )
    ):
        other_service = denied(S3.put_object, Bucket=BUCKET, Key="notes/a.txt", Body=b"a")
    assert object_keys() == set()
    with iam.enforce(guard(OBJECTS, through_s3("kms:GenerateDataKey", encrypted_bucket))):
        S3.put_object(Bucket=BUCKET, Key="notes/a.txt", Body=b"a")

    assert error_of(error)[:2] == ("AccessDenied", 403)  # S3's error, for the request S3 made to KMS
    assert_refused(error, "kms:GenerateDataKey", encrypted_bucket)
    assert_refused(other_service, "kms:GenerateDataKey", encrypted_bucket)
    assert object_keys() == {"notes/a.txt"}
    [line, _] = denial_lines(capsys)
    assert (line["service"], line["operation"], line["action"], line["via"]) == (
        "s3",
        "PutObject",
        "kms:GenerateDataKey",
        "s3",
    )


def test_reading_an_sse_kms_object_needs_kms_decrypt_on_its_key(encrypted_bucket):
    S3.put_object(Bucket=BUCKET, Key="notes/a.txt", Body=b"a")

    with iam.enforce(guard(OBJECTS, through_s3("kms:GenerateDataKey", encrypted_bucket))):
        error = denied(S3.get_object, Bucket=BUCKET, Key="notes/a.txt")
    with iam.enforce(guard(OBJECTS, through_s3("kms:Decrypt", encrypted_bucket))):
        assert S3.get_object(Bucket=BUCKET, Key="notes/a.txt")["Body"].read() == b"a"

    assert error_of(error)[:2] == ("AccessDenied", 403)
    assert_refused(error, "kms:Decrypt", encrypted_bucket)


def test_a_pre_signed_url_for_a_key_outside_the_role_fails_when_it_is_signed(bucket):
    presigner = S3Presigner(default_credentials(), REGION)  # signs without a client

    with iam.enforce(guard(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"))):
        assert "X-Amz-Signature=" in S3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "public/a"}
        )
        assert "X-Amz-Signature=" in presigner.url("GET", bucket, "public/a", 600)
        by_client = denied(S3.generate_presigned_url, "get_object", Params={"Bucket": bucket, "Key": "private/a"})
        by_signer = denied(presigner.url, "GET", bucket, "private/a", 600)
        upload = denied(presigner.url, "PUT", bucket, "public/a", 600)

    assert error_of(by_client) == (
        "AccessDenied",
        403,
        no_policy_allows("s3:GetObject", f'"arn:aws:s3:::{bucket}/private/a"'),
    )
    assert error_of(by_signer) == error_of(by_client)
    assert error_of(upload)[2] == no_policy_allows("s3:PutObject", f'"arn:aws:s3:::{bucket}/public/a"')
    assert presigner.url("GET", bucket, "private/a", 600)  # no guard: signed as ever


def test_a_pre_signed_upload_into_an_sse_kms_bucket_needs_the_data_key_when_signed(encrypted_bucket):
    presigner = S3Presigner(default_credentials(), REGION)

    with iam.enforce(guard(OBJECTS)):
        error = denied(presigner.url, "PUT", BUCKET, "notes/a.txt", 600, {"Content-Type": "text/plain"})
    with iam.enforce(guard(OBJECTS, through_s3("kms:GenerateDataKey", encrypted_bucket))):
        assert presigner.url("PUT", BUCKET, "notes/a.txt", 600, {"Content-Type": "text/plain"})

    assert_refused(error, "kms:GenerateDataKey", encrypted_bucket)


# -- binding: enforce, bind_process, unchecked, clients made before -------------------------------


@pytest.fixture
def process_guard() -> Iterator[iam.RoleGuard]:
    bound = guard(allow("sqs:ReceiveMessage", "*"))
    iam.bind_process(bound)
    try:
        yield bound
    finally:
        iam.bind_process(None)


def test_enforce_none_and_unchecked_let_calls_through_unchecked(aws, process_guard):
    with iam.unchecked():
        queue = SQS.create_queue(QueueName="notes-queue")["QueueUrl"]

    assert iam.active_guard() is process_guard
    denied(SQS.send_message, QueueUrl=queue, MessageBody="bound to the process")
    with iam.enforce(None):
        assert iam.active_guard() is None
        SQS.send_message(QueueUrl=queue, MessageBody="no guard")
    with iam.enforce(guard(allow("sqs:ReceiveMessage", "*"))):
        denied(SQS.send_message, QueueUrl=queue, MessageBody="the enforced guard")
        with iam.unchecked():
            assert iam.active_guard() is None
            SQS.send_message(QueueUrl=queue, MessageBody="unchecked")
        denied(SQS.send_message, QueueUrl=queue, MessageBody="checked again")

    with iam.unchecked():
        bodies = [m["Body"] for m in SQS.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(bodies) == ["no guard", "unchecked"]


def test_a_client_made_before_the_guard_is_checked_and_one_made_under_it_is_not_bound_to_it(notes_table):
    role = guard(allow("dynamodb:GetItem", TABLE_ARN))  # DYNAMODB was made at import, long before

    with iam.enforce(role):
        denied(DYNAMODB.put_item, TableName=TABLE, Item={"PK": {"S": "a"}, "SK": {"S": "x"}})
        made_inside = boto3.client("dynamodb")
    made_inside.put_item(TableName=TABLE, Item={"PK": {"S": "a"}, "SK": {"S": "x"}})  # the guard is read per call

    assert stored(notes_table, "a") is not None


def test_an_exempt_call_goes_unchecked(notes_table):
    role = guard(allow("dynamodb:GetItem", TABLE_ARN))
    role.exempt = lambda: True  # a test's stand-in for another actor

    with iam.enforce(role):
        DYNAMODB.put_item(TableName=TABLE, Item={"PK": {"S": "a"}, "SK": {"S": "x"}})

    assert stored(notes_table, "a") is not None


def test_recording_sees_every_decision_allowed_or_not(notes_table):
    with iam.recording() as decisions, iam.enforce(guard(allow("dynamodb:GetItem", TABLE_ARN))):
        DYNAMODB.get_item(TableName=TABLE, Key={"PK": {"S": "a"}, "SK": {"S": "x"}})
        denied(DYNAMODB.put_item, TableName=TABLE, Item={"PK": {"S": "a"}, "SK": {"S": "x"}})

    assert [(d.function, d.role, d.operation, d.evaluation.allowed) for d in decisions] == [
        ("notes-function", "NotesRole", "GetItem", True),
        ("notes-function", "NotesRole", "PutItem", False),
    ]
    assert decisions[0].request.context == {"dynamodb:leadingkeys": ("a",)}
    assert decisions[0].evaluation.allowed_by == ("notes/#0",)


EARLY_CLIENTS = """
import json
import boto3
from moto import mock_aws

with mock_aws():
    early = boto3.client("sqs")  # boto3's default session, and a client of it, before install()
    from local import iam
    from tests.local_stack.test_iam_guard import allow, guard

    iam.install()
    late = boto3.client("sqs")  # the same session, after install()
    fresh = boto3.session.Session().client("sqs")
    queue = early.create_queue(QueueName="notes-queue")["QueueUrl"]
    outcome = {}
    with iam.enforce(guard(allow("sqs:ReceiveMessage", "*"))):
        for name, client in (("early", early), ("late", late), ("fresh", fresh)):
            try:
                client.send_message(QueueUrl=queue, MessageBody="x")
                outcome[name] = "sent"
            except Exception as error:
                outcome[name] = error.response["Error"]["Code"]
    print(json.dumps(outcome))
"""


@pytest.fixture(scope="module")
def clients_around_install() -> dict[str, str]:
    """A process of its own: this one has installed the hooks long ago (tests/conftest.py)."""
    root = Path(__file__).resolve().parents[2]
    environment = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    environment["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "src" / "layers" / "common")])
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed script)
        [sys.executable, "-c", textwrap.dedent(EARLY_CLIENTS)],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_clients_made_after_install_are_checked_whatever_their_session(clients_around_install):
    assert clients_around_install["late"] == "AccessDenied"
    assert clients_around_install["fresh"] == "AccessDenied"


@pytest.mark.xfail(
    strict=True,
    reason="known gap: botocore copies a session's handlers into a client when it makes it, so a client "
    "made before iam.install() never gets the hooks; install() must come first (tests/conftest.py, local/worker.py)",
)
def test_a_client_made_before_install_is_checked(clients_around_install):
    assert clients_around_install["early"] == "AccessDenied"
