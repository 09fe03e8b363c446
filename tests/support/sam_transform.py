"""template.yaml as CloudFormation deploys it: `sam package` has put the code in S3, AWS::Include
has put the contract in the API's DefinitionBody, and the SAM transform has run."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any
from unittest import mock

from local.cfn_template import OPENAPI_PATH, Template, load_template, load_yaml

REGION = "eu-west-1"


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def packaged_template(artifact_revision: str = "1") -> Template:
    """The template after `sam package` and AWS::Include. Each code artifact's S3 key carries
    `artifact_revision`, as `sam package` names an upload by its content."""
    template = copy.deepcopy(load_template())
    template["Resources"]["ReceiptVaultApi"]["Properties"]["DefinitionBody"] = load_yaml(OPENAPI_PATH)
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://artifacts/{name}-{artifact_revision}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://artifacts/{name}-{artifact_revision}.zip"
    return template


def transformed(template: Template, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The resources CloudFormation creates from `template`, given the stack's parameter values."""
    from samtranslator.translator.transform import transform

    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}):
        resources: dict[str, Any] = transform(
            template, {"AWS::Region": REGION, **(parameters or {})}, _NoManagedPolicies()
        )["Resources"]
    return resources


def resolve_conditions(node: Any, conditions: Mapping[str, bool]) -> Any:
    """`node` with each `Fn::If` replaced by its branch under `conditions` (AWS::NoValue drops)."""
    if isinstance(node, list):
        return [resolve_conditions(item, conditions) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Fn::If"}:
        name, when_true, when_false = node["Fn::If"]
        return resolve_conditions(when_true if conditions[name] else when_false, conditions)
    return {
        key: resolve_conditions(value, conditions) for key, value in node.items() if value != {"Ref": "AWS::NoValue"}
    }
