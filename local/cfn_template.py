"""Read template.yaml as data: a YAML loader that understands CloudFormation's short tags.

The local stack and the tests provision resources from the template's own definitions, so
what runs locally cannot drift from what gets deployed.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, TypeAlias, cast

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
OPENAPI_PATH = PROJECT_ROOT / "api" / "openapi.yaml"

# template.yaml (or the OpenAPI document) as YAML gives it: mappings, lists and scalars, with
# intrinsic functions (`{"Ref": ...}`) anywhere; each resource type has its own properties, read
# by key where they are used, so neither a mapping nor a node of it is modelled statically.
Template: TypeAlias = dict[str, Any]
TemplateNode: TypeAlias = Any


class _CloudFormationLoader(yaml.SafeLoader):
    """Turns `!Ref X` into `{"Ref": "X"}`, `!Sub s` into `{"Fn::Sub": s}`, and so on."""


def _construct_intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> Template:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: TemplateNode
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_yaml(path: Path) -> Template:
    with path.open(encoding="utf-8") as handle:
        document: Template = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 (a SafeLoader subclass)
    return document


@cache
def load_template(path: Path = TEMPLATE_PATH) -> Template:
    return load_yaml(path)


def resources_of_type(template: Template, resource_type: str) -> dict[str, Template]:
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


# A Lambda proxy integration of the contract invokes its function's alias (AutoPublishAlias), so
# a published version: `.../functions/${ReceiptCrudFunction.Alias}/invocations`.
_INVOKED_ALIAS = re.compile(
    r"arn:\$\{AWS::Partition\}:apigateway:\$\{AWS::Region\}:lambda:path/2015-03-31/functions/"
    r"\$\{(\w+)\.Alias\}/invocations"
)


def integrated_function(operation: TemplateNode) -> str | None:
    """The logical id of the function an OpenAPI operation's integration invokes (through its
    alias); None for a mock integration or one that names no function's alias."""
    uri = operation.get("x-amazon-apigateway-integration", {}).get("uri", {})
    match = _INVOKED_ALIAS.fullmatch(uri.get("Fn::Sub", "")) if isinstance(uri, dict) else None
    return match.group(1) if match else None


def table_definition(template: Template, logical_id: str, table_name: str) -> Template:
    """CreateTable arguments for a table the template declares, under a concrete name."""
    properties = template["Resources"][logical_id]["Properties"]
    definition: Template = {
        "TableName": table_name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    if properties.get("StreamSpecification"):
        definition["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    return definition


def ttl_attribute(template: Template, logical_id: str) -> str | None:
    specification = template["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification")
    return specification["AttributeName"] if specification and specification.get("Enabled") else None
