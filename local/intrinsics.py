"""Resolve CloudFormation intrinsic functions against the locally emulated resources.

`Ref` and `Fn::GetAtt` ask a callback for the emulated resource's physical id or attribute,
which lets the provisioner create resources in dependency order: resolving a reference
provisions its target first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from local.cfn_template import Template, TemplateNode

ACCOUNT_ID = "123456789012"  # moto's default account
PSEUDO_PARAMETERS = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "receiptvault-local",
    "AWS::StackId": f"arn:aws:cloudformation:eu-west-1:{ACCOUNT_ID}:stack/receiptvault-local/local",
    "AWS::NotificationARNs": [],
}
NO_VALUE = object()
SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")  # ${Name} or ${Resource.Attribute}, not ${!literal}


class Resolver:
    def __init__(
        self,
        template: Template,
        parameters: Mapping[str, TemplateNode],
        region: str,
        reference: Callable[[str], TemplateNode],
        attribute: Callable[[str, str], TemplateNode],
    ) -> None:
        self.template = template
        self.region = region
        self._reference = reference
        self._attribute = attribute
        self.parameters = {
            name: parameters.get(name, spec.get("Default")) for name, spec in template.get("Parameters", {}).items()
        }
        for name, spec in template.get("Parameters", {}).items():
            if spec.get("Type") == "CommaDelimitedList" and isinstance(self.parameters[name], str):
                self.parameters[name] = [part.strip() for part in self.parameters[name].split(",")]
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def is_enabled(self, logical_id: str) -> bool:
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def ref(self, name: str) -> TemplateNode:
        if name == "AWS::Region":
            return self.region
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if "." in name:  # SAM's `!Ref Api.Stage`
            logical_id, attribute = name.split(".", 1)
            return self._attribute(logical_id, attribute)
        return self._reference(name)

    def resolve(self, value: TemplateNode) -> TemplateNode:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = _INTRINSICS.get(key)
            if handler is not None:
                return handler(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _sub(self, argument: TemplateNode) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template.get("Resources", {}):
                logical_id, attribute = name.split(".", 1)
                return str(self._attribute(logical_id, attribute))
            return str(self.ref(name))

        return SUB_VARIABLE.sub(replace, text).replace("${!", "${")


def _get_att(resolver: Resolver, argument: TemplateNode) -> TemplateNode:
    logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
    return resolver._attribute(logical_id, attribute)


def _if(resolver: Resolver, argument: list[TemplateNode]) -> TemplateNode:
    name, when_true, when_false = argument
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


_INTRINSICS: dict[str, Callable[[Resolver, TemplateNode], TemplateNode]] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r._sub(a),
    "Fn::Join": lambda r, a: a[0].join(str(item) for item in r.resolve(a[1])),
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: r.resolve(a[1]).split(a[0]),
    "Fn::If": _if,
    "Fn::Equals": lambda r, a: r.resolve(a[0]) == r.resolve(a[1]),
    "Fn::Not": lambda r, a: not r.resolve(a[0]),
    "Fn::And": lambda r, a: all(r.resolve(item) for item in a),
    "Fn::Or": lambda r, a: any(r.resolve(item) for item in a),
    "Condition": lambda r, a: r.condition(a),
    "Fn::Transform": lambda r, a: None,  # AWS::Include: the local gateway reads the file itself
}
