"""The project's cfn-lint rules (lint/cfn_rules) catch what they promise, and pass a good function."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint

from local.cfn_template import PROJECT_ROOT

RULES = ManualArgs(append_rules=[str(PROJECT_ROOT / "lint" / "cfn_rules")], regions=["eu-west-1"])

ROLE = """
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: ACTION, Resource: "arn:aws:s3:::bucket/*"}
"""
GOOD_FUNCTION = """
  Logs:
    Type: AWS::Logs::LogGroup
    Properties: {RetentionInDays: 30}
  Function:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context): return None"
      Handler: index.handler
      Runtime: python3.12
      Architectures: [arm64]
      Timeout: 10
      MemorySize: 256
      Role: !GetAtt Role.Arn
      LoggingConfig: {LogGroup: !Ref Logs}
"""


def rule_ids(resources: str) -> list[str]:
    template = f'AWSTemplateFormatVersion: "2010-09-09"\nTransform: AWS::Serverless-2016-10-31\nResources:{resources}'
    return sorted(match.rule.id for match in lint(template, config=RULES) if match.rule.id.startswith("E9"))


def test_a_well_formed_function_passes():
    assert rule_ids(ROLE.replace("ACTION", "s3:GetObject") + GOOD_FUNCTION) == []


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (("      LoggingConfig: {LogGroup: !Ref Logs}\n", ""), "E9001"),
        (("Runtime: python3.12", "Runtime: python3.11"), "E9002"),
        (("Architectures: [arm64]", "Architectures: [x86_64]"), "E9002"),
        (("      Timeout: 10\n", ""), "E9003"),
        (("      MemorySize: 256\n", ""), "E9003"),
    ],
)
def test_each_function_rule_reports_its_violation(change, rule):
    assert rule_ids(ROLE.replace("ACTION", "s3:GetObject") + GOOD_FUNCTION.replace(*change)) == [rule]


@pytest.mark.parametrize("action", ['"*"', "s3:*", "s3:Get*", "[s3:GetObject, dynamodb:*]"])
def test_a_wildcard_action_is_reported(action):
    assert rule_ids(ROLE.replace("ACTION", action) + GOOD_FUNCTION) == ["E9004"]
