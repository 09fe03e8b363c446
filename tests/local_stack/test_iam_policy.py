"""local.iam's evaluator: AWS's rules for one principal's identity policies, one by one."""

from __future__ import annotations

from typing import Any

import pytest

from local.cfn_template import load_template
from local.iam.policy import Request, RolePolicies, Statement, evaluate, parse_document, parse_statement

TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/ReceiptVault-test"
BUCKET = "arn:aws:s3:::receiptvault-images-test"


def statement(effect: str = "Allow", sid: str = "test/#0", **elements: Any) -> Statement:
    """A parsed statement: every action on every resource unless told otherwise."""
    raw = {"Effect": effect, **elements}
    if "NotAction" not in raw:
        raw.setdefault("Action", "*")
    if "NotResource" not in raw:
        raw.setdefault("Resource", "*")
    return parse_statement(raw, sid)


def allows(statements: Statement | list[Statement], action: str, resource: str = "*", **context: Any) -> bool:
    """Whether the statements allow the request; context keys as `dynamodb__LeadingKeys`."""
    keys = {name.replace("__", ":").replace("_", "-").lower(): _values(value) for name, value in context.items()}
    listed = statements if isinstance(statements, list) else [statements]
    return evaluate(listed, Request(action, resource, keys)).allowed


def _values(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def condition(operator: str, key: str, values: Any) -> Statement:
    return statement(Condition={operator: {key: values}})


# -- effects ----------------------------------------------------------------------------------------


def test_what_no_statement_allows_is_denied():
    assert not allows([], "s3:GetObject", f"{BUCKET}/k")
    assert not allows(statement(Action="s3:PutObject"), "s3:GetObject", f"{BUCKET}/k")
    evaluation = evaluate([statement(Action="s3:PutObject")], Request("s3:GetObject", f"{BUCKET}/k"))
    assert evaluation.allowed_by == () and not evaluation.explicit_deny


def test_an_explicit_deny_wins_over_any_allow_whatever_the_order():
    allow = statement(sid="p/Allow", Action="s3:*", Resource=f"{BUCKET}/*")
    deny = statement("Deny", sid="p/Deny", Action="s3:DeleteObject", Resource=f"{BUCKET}/users/*")

    for statements in ([allow, deny], [deny, allow]):
        evaluation = evaluate(statements, Request("s3:DeleteObject", f"{BUCKET}/users/u/x"))
        assert not evaluation.allowed and evaluation.explicit_deny
        assert evaluation.allowed_by == ("p/Allow",) and evaluation.denied_by == ("p/Deny",)
    assert allows([allow, deny], "s3:DeleteObject", f"{BUCKET}/exports/x")  # outside the Deny


def test_a_deny_alone_allows_nothing():
    assert not allows(statement("Deny", Action="s3:PutObject"), "s3:GetObject", f"{BUCKET}/k")


def test_every_allow_that_matches_is_reported():
    first = statement(sid="p/A", Action="dynamodb:PutItem", Resource=TABLE)
    second = statement(sid="p/B", Action="dynamodb:*", Resource=TABLE)

    assert evaluate([first, second], Request("dynamodb:PutItem", TABLE)).allowed_by == ("p/A", "p/B")


# -- actions ----------------------------------------------------------------------------------------


def test_actions_match_whatever_the_case_of_either_side():
    assert allows(statement(Action="DynamoDB:getitem"), "dynamodb:GetItem")
    assert allows(statement(Action="dynamodb:GetItem"), "DYNAMODB:GETITEM")
    assert allows(statement(Action="sns:Publish"), "SNS:Publish")


def test_an_action_star_matches_any_run_of_characters_and_a_question_mark_exactly_one():
    assert allows(statement(Action="dynamodb:Get*"), "dynamodb:GetItem")
    assert allows(statement(Action="dynamodb:*Item"), "dynamodb:BatchGetItem")
    assert not allows(statement(Action="dynamodb:Get*"), "dynamodb:BatchGetItem")
    assert allows(statement(Action="s3:?etObject"), "s3:GetObject")
    assert not allows(statement(Action="s3:?etObject"), "s3:PutObject")
    assert allows(statement(Action="s3:Put??ject"), "s3:PutObject")
    assert not allows(statement(Action="s3:?etObject"), "s3:GetObjectVersion")
    assert not allows(statement(Action="s3:?GetObject"), "s3:GetObject")  # ? is exactly one
    assert allows(statement(Action="*"), "kms:Decrypt")
    assert not allows(statement(Action="s3:Get.*"), "s3:GetObject")  # no regular expressions


def test_several_actions_are_alternatives():
    both = statement(Action=["kms:Decrypt", "kms:GenerateDataKey"])

    assert allows(both, "kms:Decrypt") and allows(both, "kms:GenerateDataKey")
    assert not allows(both, "kms:Encrypt")


def test_not_action_allows_every_other_action_case_insensitively():
    everything_but_iam = statement(NotAction=["iam:*", "sts:AssumeRole"])

    assert allows(everything_but_iam, "s3:GetObject")
    assert not allows(everything_but_iam, "iam:PassRole")
    assert not allows(everything_but_iam, "IAM:CreateUser")
    assert not allows(everything_but_iam, "sts:assumerole")
    assert allows(everything_but_iam, "sts:GetSessionToken")


def test_not_action_in_a_deny_denies_every_other_action():
    only_reads = [statement(Action="s3:*", Resource="*"), statement("Deny", NotAction="s3:Get*", Resource="*")]

    assert allows(only_reads, "s3:GetObject", f"{BUCKET}/k")
    assert not allows(only_reads, "s3:PutObject", f"{BUCKET}/k")


# -- resources --------------------------------------------------------------------------------------


def test_resources_match_case_sensitively():
    grant = statement(Resource=f"{BUCKET}/users/*")

    assert allows(grant, "s3:GetObject", f"{BUCKET}/users/u/a.jpg")
    assert not allows(grant, "s3:GetObject", f"{BUCKET}/Users/u/a.jpg")
    assert not allows(grant, "s3:GetObject", "arn:aws:s3:::ReceiptVault-Images-Test/users/u/a.jpg")


def test_the_resource_star_matches_anything():
    assert allows(statement(Resource="*"), "xray:PutTraceSegments", "*")
    assert allows(statement(Resource="*"), "s3:GetObject", f"{BUCKET}/k")


def test_the_resource_part_of_an_arn_holds_slashes_and_colons_under_a_star():
    streams = statement(Resource="arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/receipt-crud:*")
    group = statement(Resource="arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/receipt-crud")
    stream = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/receipt-crud:log-stream:2026/01/01/[$LATEST]ab"

    assert allows(streams, "logs:PutLogEvents", stream)
    assert not allows(group, "logs:PutLogEvents", stream)  # the group's own ARN is not its streams'
    assert allows(
        statement(Resource=f"{BUCKET}/users/*/receipts/*/original/*"),
        "s3:GetObject",
        f"{BUCKET}/users/a/receipts/b/original/c/d.jpg",
    )


def test_a_wildcard_inside_an_arn_segment_stays_within_that_segment():
    region_wildcard = statement(Resource="arn:aws:lambda:eu-*1:123456789012:function:receipt-crud")
    one_character = statement(Resource="arn:aws:lambda:eu-west-?:123456789012:function:receipt-crud")

    assert allows(
        region_wildcard, "lambda:InvokeFunction", "arn:aws:lambda:eu-west-1:123456789012:function:receipt-crud"
    )
    assert not allows(
        region_wildcard, "lambda:InvokeFunction", "arn:aws:lambda:eu-west:1:123456789012:function:receipt-crud"
    )
    assert allows(one_character, "lambda:InvokeFunction", "arn:aws:lambda:eu-west-2:123456789012:function:receipt-crud")
    assert not allows(
        one_character, "lambda:InvokeFunction", "arn:aws:lambda:eu-west-12:123456789012:function:receipt-crud"
    )


def test_a_star_that_ends_a_segment_may_run_on_past_its_colons():
    every_region = statement(Resource="arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0")
    anything_in_sqs = statement(Resource="arn:aws:sqs:*")

    assert allows(
        every_region,
        "bedrock:InvokeModel",
        "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
    )
    assert not allows(
        every_region,
        "bedrock:InvokeModel",
        "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    )
    assert allows(anything_in_sqs, "sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:receiptvault-export-test")
    assert not allows(anything_in_sqs, "sns:Publish", "arn:aws:sns:eu-west-1:123456789012:topic")


def test_the_templates_endpoint_pattern_scopes_to_the_stage():
    """ManageDeviceEndpoints: endpoint/*/receiptvault-<stage>-*/*."""
    endpoints = statement(Resource="arn:aws:sns:eu-west-1:123456789012:endpoint/*/receiptvault-test-*/*")

    assert allows(
        endpoints, "sns:Publish", "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/receiptvault-test-fcm/0b7e"
    )
    assert not allows(
        endpoints, "sns:Publish", "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/otherapp-test-fcm/0b7e"
    )
    assert not allows(
        endpoints, "sns:Publish", "arn:aws:sns:eu-west-1:999999999999:endpoint/GCM/receiptvault-test-fcm/0b7e"
    )


def test_not_resource_allows_everything_else():
    but_secrets = statement(Action="s3:GetObject", NotResource=[f"{BUCKET}/secrets/*", "arn:aws:s3:::other/*"])

    assert allows(but_secrets, "s3:GetObject", f"{BUCKET}/users/u/a.jpg")
    assert not allows(but_secrets, "s3:GetObject", f"{BUCKET}/secrets/key")
    assert not allows(but_secrets, "s3:GetObject", "arn:aws:s3:::other/x")
    assert allows(but_secrets, "s3:GetObject", f"{BUCKET}/Secrets/key")  # case-sensitive, as Resource


# -- conditions -------------------------------------------------------------------------------------


def test_string_equals_is_exact_and_case_sensitive_and_its_values_are_alternatives():
    via_s3 = condition("StringEquals", "kms:ViaService", ["s3.eu-west-1.amazonaws.com", "ssm.eu-west-1.amazonaws.com"])

    assert allows(via_s3, "kms:Decrypt", kms__ViaService="s3.eu-west-1.amazonaws.com")
    assert allows(via_s3, "kms:Decrypt", kms__ViaService="ssm.eu-west-1.amazonaws.com")
    assert not allows(via_s3, "kms:Decrypt", kms__ViaService="S3.eu-west-1.amazonaws.com")
    assert not allows(via_s3, "kms:Decrypt", kms__ViaService="s3.eu-west-1.amazonaws.com.evil")


def test_string_equals_ignore_case():
    grant = condition("StringEqualsIgnoreCase", "kms:ViaService", "S3.EU-WEST-1.amazonaws.com")

    assert allows(grant, "kms:Decrypt", kms__ViaService="s3.eu-west-1.amazonaws.com")


def test_condition_keys_match_whatever_their_case():
    grant = condition("StringEquals", "KMS:viaservice", "s3.eu-west-1.amazonaws.com")

    assert allows(grant, "kms:Decrypt", kms__ViaService="s3.eu-west-1.amazonaws.com")


def test_every_key_and_every_operator_must_hold():
    both = statement(
        Condition={
            "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com", "kms:CallerAccount": "123456789012"},
            "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/receiptvault/test/*"},
        }
    )
    good = {
        "kms__ViaService": "s3.eu-west-1.amazonaws.com",
        "kms__CallerAccount": "123456789012",
        "aws__PrincipalArn": "arn:aws:iam::123456789012:role/receiptvault/test/ReceiptCrudRole",
    }

    assert allows(both, "kms:Decrypt", **good)
    assert not allows(both, "kms:Decrypt", **{**good, "kms__CallerAccount": "999999999999"})
    assert not allows(both, "kms:Decrypt", **{**good, "aws__PrincipalArn": "arn:aws:iam::123456789012:role/other"})


def test_string_like_has_star_and_question_mark():
    prefix = condition("StringLike", "s3:prefix", ["users/*", "exports/??/*"])

    assert allows(prefix, "s3:ListBucket", BUCKET, s3__prefix="users/7d3f/")
    assert allows(prefix, "s3:ListBucket", BUCKET, s3__prefix="exports/ab/x")
    assert not allows(prefix, "s3:ListBucket", BUCKET, s3__prefix="exports/abc/x")
    assert not allows(prefix, "s3:ListBucket", BUCKET, s3__prefix="")
    assert not allows(prefix, "s3:ListBucket", BUCKET, s3__prefix="Users/7d3f/")


def test_string_not_equals_holds_for_any_other_value_and_for_none_listed():
    not_aws_kms = condition("StringNotEquals", "s3:x-amz-server-side-encryption", ["aws:kms", "aws:kms:dsse"])

    assert allows(not_aws_kms, "s3:PutObject", s3__x_amz_server_side_encryption="AES256")
    assert not allows(not_aws_kms, "s3:PutObject", s3__x_amz_server_side_encryption="aws:kms")
    assert not allows(not_aws_kms, "s3:PutObject", s3__x_amz_server_side_encryption="aws:kms:dsse")


def test_for_all_values_string_like_on_leading_keys_as_the_template_writes_it():
    """ActiveUserMarkers: PutItem only where every partition key written is ACTIVE#..."""
    [grant] = [
        s
        for s in load_template()["Resources"]["OcrRefineRole"]["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"
        ]
        if s.get("Sid") == "ActiveUserMarkers"
    ]
    markers = statement(Action=grant["Action"], Resource=TABLE, Condition=grant["Condition"])
    assert grant["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ACTIVE#*"]}}

    assert allows(markers, "dynamodb:PutItem", TABLE, dynamodb__LeadingKeys="ACTIVE#2026-11-22#a")
    assert allows(markers, "dynamodb:PutItem", TABLE, dynamodb__LeadingKeys=["ACTIVE#2026-11-22#a", "ACTIVE#x"])
    assert not allows(markers, "dynamodb:PutItem", TABLE, dynamodb__LeadingKeys="USER#7d3f")
    assert not allows(markers, "dynamodb:PutItem", TABLE, dynamodb__LeadingKeys=["ACTIVE#x", "USER#7d3f"])
    assert not allows(markers, "dynamodb:PutItem", TABLE, dynamodb__LeadingKeys="active#x")
    assert not allows(markers, "dynamodb:GetItem", TABLE, dynamodb__LeadingKeys="ACTIVE#x")
    # No partition key at all (a Scan): vacuously true, as AWS documents ForAllValues.
    assert allows(markers, "dynamodb:PutItem", TABLE)
    assert allows(markers, "dynamodb:PutItem", TABLE, dynamodb__LeadingKeys=[])


def test_for_any_value_needs_one_matching_value_and_fails_on_a_missing_key():
    any_marker = condition("ForAnyValue:StringLike", "dynamodb:LeadingKeys", "ACTIVE#*")

    assert allows(any_marker, "dynamodb:BatchWriteItem", TABLE, dynamodb__LeadingKeys=["USER#a", "ACTIVE#b"])
    assert not allows(any_marker, "dynamodb:BatchWriteItem", TABLE, dynamodb__LeadingKeys=["USER#a"])
    assert not allows(any_marker, "dynamodb:BatchWriteItem", TABLE)


def test_without_a_qualifier_several_request_values_need_one_match_or_for_a_negation_none():
    positive = condition("StringLike", "dynamodb:LeadingKeys", "ACTIVE#*")
    negated = condition("StringNotLike", "dynamodb:LeadingKeys", "ACTIVE#*")

    assert allows(positive, "dynamodb:BatchGetItem", TABLE, dynamodb__LeadingKeys=["USER#a", "ACTIVE#b"])
    assert allows(negated, "dynamodb:BatchGetItem", TABLE, dynamodb__LeadingKeys=["USER#a", "USER#b"])
    assert not allows(negated, "dynamodb:BatchGetItem", TABLE, dynamodb__LeadingKeys=["USER#a", "ACTIVE#b"])


def test_if_exists_holds_on_a_missing_key_and_applies_on_a_present_one():
    """As the images bucket's DenyPutWithAnotherEncryption writes it."""
    only_kms = condition("StringEqualsIfExists", "s3:x-amz-server-side-encryption", "aws:kms")

    assert allows(only_kms, "s3:PutObject", f"{BUCKET}/k")
    assert allows(only_kms, "s3:PutObject", f"{BUCKET}/k", s3__x_amz_server_side_encryption="aws:kms")
    assert not allows(only_kms, "s3:PutObject", f"{BUCKET}/k", s3__x_amz_server_side_encryption="AES256")
    assert allows(condition("StringNotEqualsIfExists", "s3:x-amz-acl", "public-read"), "s3:PutObject", f"{BUCKET}/k")


def test_null_checks_whether_a_key_is_there():
    absent = condition("Null", "s3:x-amz-server-side-encryption-aws-kms-key-id", "true")
    present = condition("Null", "s3:x-amz-server-side-encryption", False)  # a boolean, as YAML may give it

    assert allows(absent, "s3:PutObject", f"{BUCKET}/k")
    assert not allows(absent, "s3:PutObject", f"{BUCKET}/k", s3__x_amz_server_side_encryption_aws_kms_key_id="k")
    assert allows(present, "s3:PutObject", f"{BUCKET}/k", s3__x_amz_server_side_encryption="aws:kms")
    assert not allows(present, "s3:PutObject", f"{BUCKET}/k")


def test_bool_compares_true_and_false_whatever_their_case_or_type():
    secure = condition("Bool", "aws:SecureTransport", True)

    assert secure.conditions == {"Bool": {"aws:SecureTransport": ("true",)}}
    assert allows(secure, "s3:GetObject", aws__SecureTransport="true")
    assert allows(secure, "s3:GetObject", aws__SecureTransport="True")
    assert not allows(secure, "s3:GetObject", aws__SecureTransport="false")
    assert not allows(secure, "s3:GetObject")  # missing: a plain operator does not hold


def test_numeric_operators_compare_numbers_not_text():
    below_ten = condition("NumericLessThan", "s3:max-keys", "10")

    assert allows(below_ten, "s3:ListBucket", BUCKET, s3__max_keys="9")  # "9" > "10" as text
    assert not allows(below_ten, "s3:ListBucket", BUCKET, s3__max_keys="10")
    assert not allows(below_ten, "s3:ListBucket", BUCKET, s3__max_keys="100")
    assert allows(condition("NumericLessThan", "s3:max-keys", 10), "s3:ListBucket", BUCKET, s3__max_keys="2.5")
    assert allows(
        condition("NumericGreaterThanEquals", "s3:max-keys", "10"), "s3:ListBucket", BUCKET, s3__max_keys="10"
    )


def test_date_operators_compare_instants_in_iso_8601_or_epoch_seconds():
    after = condition("DateGreaterThan", "aws:CurrentTime", "2026-11-22T08:00:00Z")

    assert allows(after, "s3:GetObject", aws__CurrentTime="2026-11-22T08:00:01Z")
    assert allows(after, "s3:GetObject", aws__CurrentTime="2026-11-22T10:00:01+02:00")  # 08:00:01Z
    assert not allows(after, "s3:GetObject", aws__CurrentTime="2026-11-22T09:59:59+02:00")
    assert not allows(after, "s3:GetObject", aws__CurrentTime="2026-11-22T08:00:00Z")
    assert allows(after, "s3:GetObject", aws__CurrentTime="1795341601")  # 2026-11-22T08:00:01Z
    assert allows(
        condition("DateLessThan", "aws:EpochTime", "1795341600"), "s3:GetObject", aws__EpochTime="2026-11-22T07:59:59Z"
    )


def test_ip_address_matches_addresses_in_any_listed_network():
    office = condition("IpAddress", "aws:SourceIp", ["203.0.113.0/24", "2001:db8::/32"])
    outside = condition("NotIpAddress", "aws:SourceIp", "203.0.113.0/24")

    assert allows(office, "s3:GetObject", aws__SourceIp="203.0.113.77")
    assert allows(office, "s3:GetObject", aws__SourceIp="2001:db8::1")
    assert not allows(office, "s3:GetObject", aws__SourceIp="198.51.100.1")
    assert allows(outside, "s3:GetObject", aws__SourceIp="198.51.100.1")
    assert not allows(outside, "s3:GetObject", aws__SourceIp="203.0.113.77")


def test_arn_like_matches_each_of_the_six_parts_on_its_own():
    """As the data key's policy names the stack's function roles."""
    stack_roles = condition("ArnLike", "aws:PrincipalArn", "arn:aws:iam::123456789012:role/receiptvault/test/*")
    any_account = condition("ArnLike", "aws:SourceArn", "arn:aws:cloudfront::*:distribution/*")

    assert allows(
        stack_roles, "kms:Decrypt", aws__PrincipalArn="arn:aws:iam::123456789012:role/receiptvault/test/SyncHandlerRole"
    )
    assert not allows(
        stack_roles, "kms:Decrypt", aws__PrincipalArn="arn:aws:iam::123456789012:role/receiptvault/prod/SyncHandlerRole"
    )
    assert not allows(
        stack_roles, "kms:Decrypt", aws__PrincipalArn="arn:aws:iam::999999999999:role/receiptvault/test/X"
    )
    assert allows(any_account, "kms:Decrypt", aws__SourceArn="arn:aws:cloudfront::123456789012:distribution/E2ABC")
    # A star within a part never runs into the next one.
    assert not allows(any_account, "kms:Decrypt", aws__SourceArn="arn:aws:cloudfront::1:2:distribution/E2ABC")
    assert not allows(any_account, "kms:Decrypt", aws__SourceArn="not-an-arn")
    assert allows(condition("ArnNotLike", "aws:SourceArn", "arn:aws:cloudfront::*:*"), "kms:Decrypt")  # missing


def test_binary_equals_compares_the_decoded_bytes():
    grant = condition("BinaryEquals", "custom:blob", "aGVsbG8=")

    assert allows(grant, "s3:GetObject", custom__blob="aGVsbG8=")
    assert not allows(grant, "s3:GetObject", custom__blob="aGVsbG9v")


@pytest.mark.parametrize(
    ("operator", "value", "holds"),
    [
        ("StringEquals", "x", False),
        ("StringLike", "*", False),
        ("ArnLike", "arn:aws:s3:::*", False),
        ("NumericLessThan", "1", False),
        ("DateGreaterThan", "2026-01-01T00:00:00Z", False),
        ("Bool", "true", False),
        ("IpAddress", "10.0.0.0/8", False),
        ("ForAnyValue:StringLike", "*", False),
        ("StringNotEquals", "x", True),
        ("StringNotLike", "*", True),
        ("ArnNotEquals", "arn:aws:s3:::b", True),
        ("NotIpAddress", "10.0.0.0/8", True),
        ("DateNotEquals", "2026-01-01T00:00:00Z", True),
        ("ForAllValues:StringLike", "x", True),
        ("StringEqualsIfExists", "x", True),
        ("NumericLessThanIfExists", "1", True),
        ("ForAllValues:StringEqualsIfExists", "x", True),
    ],
)
def test_on_a_missing_key_only_for_all_values_negations_and_if_exists_hold(operator, value, holds):
    """aws:ResourceTag is one of the keys local.iam never sets: a condition on it sees it missing."""
    on_a_tag = condition(operator, "aws:ResourceTag/owner", value)

    assert allows(on_a_tag, "s3:GetObject") is holds
    assert allows(on_a_tag, "s3:GetObject", aws__ResourceTag__other="x") is holds  # only other keys present


# -- what is refused when a role is read ------------------------------------------------------------


@pytest.mark.parametrize(
    "operator", ["StringEqualz", "ForAllValues:Bogus", "ForEveryValue:StringLike", "NullIfExists2", "stringequals"]
)
def test_an_unknown_condition_operator_is_refused_at_parse_time(operator):
    with pytest.raises(ValueError, match="operator not modelled"):
        statement(Condition={operator: {"aws:SecureTransport": "true"}})


@pytest.mark.parametrize(
    "elements",
    [
        {"Resource": "arn:aws:s3:::bucket/${aws:username}/*"},
        {"Condition": {"StringLike": {"s3:prefix": "home/${aws:userid}/*"}}},
        {"Action": "s3:${aws:PrincipalTag/action}"},
        {"NotResource": "arn:aws:s3:::${aws:username}"},
    ],
)
def test_a_policy_variable_is_refused_at_parse_time(elements):
    with pytest.raises(ValueError, match="policy variables are not modelled"):
        statement(**elements)


@pytest.mark.parametrize("element", ["Principal", "NotPrincipal", "Version", "Id", "Conditions"])
def test_an_element_other_than_those_of_an_identity_statement_is_refused(element):
    with pytest.raises(ValueError, match="not modelled in identity policies"):
        statement(**{element: "*"})


@pytest.mark.parametrize(
    "raw",
    [
        {"Effect": "allow", "Action": "*", "Resource": "*"},
        {"Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "x"},
        {"Effect": "Allow", "Action": "*"},
        {"Effect": "Allow", "Action": {"Ref": "Unresolved"}, "Resource": "*"},
    ],
)
def test_a_malformed_statement_is_refused(raw):
    with pytest.raises(ValueError):
        parse_statement(raw, "p/#0")


def test_a_document_names_its_statements_by_sid_or_position():
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        ],
    }

    assert [s.sid for s in parse_document(document, "receipt-crud")] == ["receipt-crud/Logs", "receipt-crud/#1"]
    single = {"Statement": {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}}
    assert [s.actions for s in parse_document(single, "p")] == [("sns:Publish",)]


def test_role_policies_round_trip_through_json_and_lose_one_statement_for_mutation_tests():
    statements = parse_document(
        {
            "Statement": [
                {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{BUCKET}/*"},
                {
                    "Sid": "B",
                    "Effect": "Allow",
                    "NotAction": "iam:*",
                    "NotResource": TABLE,
                    "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ACTIVE#*"]}},
                },
            ]
        },
        "p",
    )
    policies = RolePolicies("Role", "role-name", "arn:aws:iam::123456789012:role/role-name", tuple(statements))

    assert RolePolicies.from_json(policies.to_json()) == policies
    assert [s.sid for s in policies.without("p/B").statements] == ["p/A"]
    with pytest.raises(KeyError):
        policies.without("p/C")
