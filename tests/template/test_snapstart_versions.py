"""The SnapStart option, as CloudFormation deploys it: the API invokes an alias of published
versions, the parameter switches snapshots on and off, and every change reaches the alias."""

from __future__ import annotations

from typing import Any

import pytest

from local.cfn_template import load_template, resources_of_type
from tests.support.sam_transform import packaged_template, resolve_conditions, transformed

TEMPLATE = load_template()
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
API_FUNCTIONS = sorted(
    name
    for name, function in FUNCTIONS.items()
    if any(event["Type"] == "Api" for event in function["Properties"].get("Events", {}).values())
)
ALIAS = "live"


def _resources_of(resources: dict[str, Any], resource_type: str, function: str) -> dict[str, Any]:
    return {
        name: resource
        for name, resource in resources.items()
        if resource["Type"] == resource_type and name.startswith(function)
    }


def _version(resources: dict[str, Any], function: str) -> tuple[str, dict[str, Any]]:
    [(name, version)] = _resources_of(resources, "AWS::Lambda::Version", function).items()
    return name, version


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    return transformed(packaged_template())


@pytest.fixture(scope="module")
def redeployed_with_new_code() -> dict[str, Any]:
    """The same stack after `sam package` uploaded new code of every function."""
    return transformed(packaged_template(artifact_revision="2"))


@pytest.fixture(scope="module")
def redeployed_with_a_new_layer() -> dict[str, Any]:
    """The same stack after a change to the common layer only."""
    template = packaged_template()
    template["Resources"]["CommonLayer"]["Properties"]["ContentUri"] = "s3://artifacts/CommonLayer-2.zip"
    return transformed(template)


def test_snapstart_is_a_parameter_off_by_default():
    parameter = TEMPLATE["Parameters"]["SnapStart"]

    assert parameter["Default"] == "false"
    assert parameter["AllowedValues"] == ["true", "false"]
    assert TEMPLATE["Conditions"]["UsesSnapStart"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "true"]}


def test_exactly_the_api_functions_publish_versions_behind_an_alias():
    published = {name for name, function in FUNCTIONS.items() if "AutoPublishAlias" in function["Properties"]}

    assert len(API_FUNCTIONS) >= 10
    assert published == set(API_FUNCTIONS)


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_the_parameter_turns_snapshots_on_for_published_versions_only(function, deployed):
    properties = deployed[function]["Properties"]

    assert resolve_conditions(properties["SnapStart"], {"UsesSnapStart": True}) == {"ApplyOn": "PublishedVersions"}
    assert resolve_conditions(properties["SnapStart"], {"UsesSnapStart": False}) == {"ApplyOn": "None"}


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_switching_snapstart_replaces_the_version_and_the_alias_follows(function, deployed):
    """SAM names a version by its code, not by the parameter; its description, which cannot
    change in place, differs with the parameter, so CloudFormation publishes a new version (with
    or without a snapshot) and moves the alias to it. The old one is deleted, not kept paying for
    its snapshot's cache."""
    name, version = _version(deployed, function)
    descriptions = {
        resolve_conditions(version["Properties"]["Description"], {"UsesSnapStart": on}) for on in (True, False)
    }
    alias = deployed[f"{function}Alias{ALIAS}"]

    assert len(descriptions) == 2
    assert version["DeletionPolicy"] == "Delete"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [name, "Version"]}
    assert alias["Properties"]["Name"] == ALIAS


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_new_code_or_a_new_layer_publishes_a_new_version(
    function, deployed, redeployed_with_new_code, redeployed_with_a_new_layer
):
    name, _ = _version(deployed, function)

    assert _version(redeployed_with_new_code, function)[0] != name
    assert _version(redeployed_with_a_new_layer, function)[0] != name


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_the_api_and_its_permissions_reach_the_alias_only(function, deployed):
    [api] = [resource for resource in deployed.values() if resource["Type"] == "AWS::ApiGateway::RestApi"]
    uris = [
        operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for item in api["Properties"]["Body"]["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        and operation.get("x-amazon-apigateway-integration", {}).get("type") == "aws_proxy"
    ]
    permissions = _resources_of(deployed, "AWS::Lambda::Permission", function)
    mappings = _resources_of(deployed, "AWS::Lambda::EventSourceMapping", function)

    assert any(f"${{{function}Alias{ALIAS}}}" in uri for uri in uris)
    assert not any(f"${{{function}.Arn}}" in uri or f"${{{function}}}" in uri for uri in uris)
    assert permissions
    assert {str(permission["Properties"]["FunctionName"]) for permission in permissions.values()} == {
        str({"Ref": f"{function}Alias{ALIAS}"})
    }
    for mapping in mappings.values():  # the erasure queue's reruns run the same version
        assert mapping["Properties"]["FunctionName"] == {"Ref": f"{function}Alias{ALIAS}"}
