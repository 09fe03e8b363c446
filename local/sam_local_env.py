"""The `--env-vars` file of `sam local invoke`, for functions that run in Docker against `make dev`.

SAM CLI resolves a `Ref` or `Fn::GetAtt` of a resource to its logical id (or to a placeholder
ARN), so every variable that names a resource needs its local value from the file. This module
derives those values from a running stack, for the file checked in as `env.json` (the stack at
`make dev`'s default ports) and for `GET /_local/env.json` (the stack as it runs now).

Values are what a container reaches, and what stays the same from one run to the next: the
emulation through `host.docker.internal`, the data key by its alias and a secret by its name
(the key id and the secret ARN's suffix are new on every run; KMS, S3 and Secrets Manager
accept either form). The user pool's id is stable too: the stack derives it from the pool's
definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from local.cfn_template import Template, TemplateNode
from local.intrinsics import ACCOUNT_ID, SUB_VARIABLE

if TYPE_CHECKING:
    from local.stack import LocalStack

DOCKER_HOST = "host.docker.internal"


def names_a_resource(value: TemplateNode, resources: Template) -> bool:
    """Whether a template value refers to a resource (a `Ref`, `Fn::GetAtt` or `Fn::Sub` of one)."""
    if isinstance(value, list):
        return any(names_a_resource(item, resources) for item in value)
    if not isinstance(value, dict):
        return False
    if "Ref" in value:
        return str(value["Ref"]).split(".", 1)[0] in resources
    if "Fn::GetAtt" in value:
        return True
    if "Fn::Sub" in value:
        argument = value["Fn::Sub"]
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        named = {part.split(".", 1)[0] for part in SUB_VARIABLE.findall(text)} - set(variables)
        return bool(named & set(resources)) or names_a_resource(list(variables.values()), resources)
    return any(names_a_resource(item, resources) for item in value.values())


def resource_variables(template: Template, logical_id: str) -> list[str]:
    """The environment variables of a function whose values name a resource, globals included."""
    resources = template["Resources"]
    variables = {
        **template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}),
        **resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    return [name for name, value in variables.items() if names_a_resource(value, resources)]


def env_file(
    stack: LocalStack, aws_endpoint: str | None = None, api_url: str | None = None
) -> dict[str, dict[str, str]]:
    """Per function, the values of its resource-naming variables, as `stack` provisioned them.

    `aws_endpoint` and `api_url` replace the stack's own endpoints in the values (by default,
    the same ports through Docker's host name).
    """
    container_aws = aws_endpoint or stack.aws_endpoint.replace("127.0.0.1", DOCKER_HOST)
    container_api = api_url or stack.api_url
    stable_names = {**_key_aliases(stack), **_secret_names(stack)}
    sections: dict[str, dict[str, str]] = {}
    for logical_id, function in sorted(stack.functions.items()):
        values = {}
        for name in resource_variables(stack.template, logical_id):
            value = function.environment[name]
            value = stable_names.get(value, value)
            values[name] = value.replace(stack.aws_endpoint, container_aws).replace(stack.api_url, container_api)
        if values:
            sections[logical_id] = values
    return sections


def _key_aliases(stack: LocalStack) -> dict[str, str]:
    """Key ARN -> alias ARN, for the template's keys that have an alias: KMS and S3 accept an
    alias wherever a key id goes."""
    aliases = {}
    for alias in stack.resources.client("kms").list_aliases()["Aliases"]:
        if alias.get("TargetKeyId"):
            key_arn = f"arn:aws:kms:{stack.config.region}:{ACCOUNT_ID}:key/{alias['TargetKeyId']}"
            aliases[key_arn] = alias["AliasArn"]
    return aliases


def _secret_names(stack: LocalStack) -> dict[str, str]:
    """Secret ARN -> secret name."""
    return {
        secret["ARN"]: secret["Name"]
        for secret in stack.resources.client("secretsmanager").list_secrets()["SecretList"]
    }
