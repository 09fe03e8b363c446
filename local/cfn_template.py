"""Read template.yaml as data: a YAML loader that understands CloudFormation's short tags.

The local stack and the tests provision resources from the template's own definitions, so
what runs locally cannot drift from what gets deployed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
OPENAPI_PATH = PROJECT_ROOT / "api" / "openapi.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """Turns `!Ref X` into `{"Ref": "X"}`, `!Sub s` into `{"Fn::Sub": s}`, and so on."""


def _construct_intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 (a SafeLoader subclass)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return load_yaml(path)


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def table_definition(template: dict[str, Any], logical_id: str, table_name: str) -> dict[str, Any]:
    """CreateTable arguments for a table the template declares, under a concrete name."""
    properties = template["Resources"][logical_id]["Properties"]
    definition: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    return definition


def ttl_attribute(template: dict[str, Any], logical_id: str) -> str | None:
    specification = template["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification")
    return specification["AttributeName"] if specification and specification.get("Enabled") else None
