"""cfn-lint rules of this project (run by `make lint` through .cfnlintrc's `append_rules`).

cfn-lint validates SAM resources as they are, with the Globals section merged into each
AWS::Serverless::Function, so these rules see every function's effective properties.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

PINNED_RUNTIME = "python3.12"
PINNED_ARCHITECTURES = ["arm64"]
FUNCTION_TYPES = ["AWS::Serverless::Function", "AWS::Lambda::Function"]
POLICY_TYPES = ["AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"]


def _functions(cfn: Any) -> dict[str, dict[str, Any]]:
    return {
        name: resource.get("Properties") or {}
        for name, resource in cfn.get_resources(FUNCTION_TYPES).items()
        if isinstance(resource, dict)
    }


class FunctionHasOwnLogGroup(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Every function logs to a log group the template declares"
    description = (
        "LoggingConfig.LogGroup must reference an AWS::Logs::LogGroup of this template, so that "
        "retention is set and the log group is deleted with the stack"
    )
    tags: ClassVar[list[str]] = ["receiptvault", "logging"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        log_groups = set(cfn.get_resources(["AWS::Logs::LogGroup"]))
        matches = []
        for name, properties in _functions(cfn).items():
            target = (properties.get("LoggingConfig") or {}).get("LogGroup")
            if not (isinstance(target, dict) and target.get("Ref") in log_groups):
                path = ["Resources", name, "Properties", "LoggingConfig"]
                matches.append(RuleMatch(path, f"{name} must log to a declared AWS::Logs::LogGroup"))
        return matches


class FunctionRuntimeIsPinned(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "Every function runs the pinned runtime and architecture"
    description = f"Runtime must be {PINNED_RUNTIME} and Architectures {PINNED_ARCHITECTURES}"
    tags: ClassVar[list[str]] = ["receiptvault", "lambda"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, properties in _functions(cfn).items():
            if properties.get("Runtime") != PINNED_RUNTIME:
                path = ["Resources", name, "Properties", "Runtime"]
                matches.append(RuleMatch(path, f"{name} must run {PINNED_RUNTIME}"))
            if properties.get("Architectures") != PINNED_ARCHITECTURES:
                path = ["Resources", name, "Properties", "Architectures"]
                matches.append(RuleMatch(path, f"{name} must run on {PINNED_ARCHITECTURES}"))
        return matches


class FunctionHasExplicitTimeoutAndMemory(CloudFormationLintRule):
    id = "E9003"
    shortdesc = "Every function sets its timeout and memory"
    description = "Timeout and MemorySize must be set (in Globals or on the function), never Lambda's 3 s / 128 MB"
    tags: ClassVar[list[str]] = ["receiptvault", "lambda"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, properties in _functions(cfn).items():
            for setting in ("Timeout", "MemorySize"):
                if setting not in properties:
                    path = ["Resources", name, "Properties"]
                    matches.append(RuleMatch(path, f"{name} must set {setting} explicitly"))
        return matches


class NoWildcardIamAction(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "No IAM statement allows a wildcard action"
    description = "Actions are named one by one: no '*' and no 'service:*' (or any '*' inside an action)"
    tags: ClassVar[list[str]] = ["receiptvault", "iam"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, resource in cfn.get_resources(POLICY_TYPES).items():
            properties = resource.get("Properties") or {}
            documents = [(["PolicyDocument"], properties.get("PolicyDocument"))]
            documents += [
                (["Policies", index, "PolicyDocument"], policy.get("PolicyDocument"))
                for index, policy in enumerate(properties.get("Policies") or [])
                if isinstance(policy, dict)
            ]
            for path, document in documents:
                if not isinstance(document, dict):
                    continue
                for number, statement in enumerate(_as_list(document.get("Statement"))):
                    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                        continue
                    for action in _as_list(statement.get("Action")):
                        if isinstance(action, str) and "*" in action:
                            location = ["Resources", name, "Properties", *path, "Statement", number, "Action"]
                            matches.append(RuleMatch(location, f"{name} allows the wildcard action {action!r}"))
        return matches


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
