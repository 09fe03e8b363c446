"""Intrinsic functions resolve against the template's parameters, conditions and resources."""

from __future__ import annotations

import pytest

from local.cfn_template import load_template
from local.intrinsics import NO_VALUE, Resolver

TEMPLATE = load_template()


def resolver(**parameters: str) -> Resolver:
    return Resolver(TEMPLATE, parameters, "eu-west-1", lambda name: f"<{name}>", lambda name, att: f"<{name}.{att}>")


def test_sub_join_select_and_pseudo_parameters():
    local = resolver(Stage="prod", CorsAllowedOrigins="https://a.example,https://b.example")

    assert local.resolve({"Fn::Sub": "receiptvault-images-${Stage}-${AWS::Region}-${AWS::AccountId}"}) == (
        "receiptvault-images-prod-eu-west-1-123456789012"
    )
    assert local.resolve({"Fn::Join": [",", {"Ref": "CorsAllowedOrigins"}]}) == "https://a.example,https://b.example"
    assert local.resolve({"Fn::Select": [1, {"Ref": "CorsAllowedOrigins"}]}) == "https://b.example"
    assert local.resolve({"Fn::Sub": "${ReceiptCrudFunction.Arn}"}) == "<ReceiptCrudFunction.Arn>"
    assert local.resolve({"Fn::GetAtt": ["DataKey", "Arn"]}) == "<DataKey.Arn>"


def test_conditions_follow_the_parameters():
    assert not resolver().condition("HasFcm")
    assert resolver(FcmCredentialsParameterName="/x/fcm").condition("HasFcm")
    assert resolver(Stage="prod").condition("IsProd")
    assert not resolver().is_enabled("PlatformApplicationFunction")


def test_no_value_drops_the_property():
    local = resolver()

    assert local.resolve({"a": {"Fn::If": ["HasFcm", "x", {"Ref": "AWS::NoValue"}]}, "b": 1}) == {"b": 1}
    assert local.resolve([{"Ref": "AWS::NoValue"}, "kept"]) == ["kept"]
    assert local.ref("AWS::NoValue") is NO_VALUE


@pytest.mark.parametrize("name", ["ReceiptVaultTable", "ImagesBucket", "ExportQueue", "UserPool"])
def test_the_local_stack_provisions_what_the_template_declares(aws, name):
    from local.provision import LocalResources

    resources = LocalResources(TEMPLATE, {"Stage": "dev"}, "eu-west-1", endpoint_url=None)  # moto in-process
    resources.provision_all()

    assert name in resources.created


def test_provisioned_resources_carry_the_templates_configuration(aws):
    import boto3

    from local.provision import LocalResources

    resources = LocalResources(TEMPLATE, {"Stage": "dev"}, "eu-west-1", endpoint_url=None)
    resources.provision_all()

    table = boto3.client("dynamodb").describe_table(TableName="ReceiptVault-dev")["Table"]
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} >= {"ByUserDate", "ByUpdatedAt"}
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName="ReceiptVault-dev")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "ttl"
    s3 = boto3.client("s3")
    images = resources.physical_id("ImagesBucket")
    assert s3.get_bucket_versioning(Bucket=images)["Status"] == "Enabled"
    [rule] = s3.get_bucket_encryption(Bucket=images)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == resources.attribute("DataKey", "Arn")
    queue = resources.physical_id("ExportQueue")
    redrive = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])
    assert '"maxReceiveCount": 3' in redrive["Attributes"]["RedrivePolicy"]
    policy = boto3.client("cognito-idp").describe_user_pool(UserPoolId=resources.physical_id("UserPool"))
    assert policy["UserPool"]["Policies"]["PasswordPolicy"]["RequireSymbols"] is True
