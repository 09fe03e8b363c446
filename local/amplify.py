"""The local stack as Amplify Flutter configures itself: amplifyconfiguration.json (Gen 1) and
amplify_outputs.json (Gen 2), from /_local/config and the user pool template.yaml declares.

Both point the Cognito calls at the emulation (`Endpoint`, `user_pool_endpoint`: amplify-flutter
reads them since #6477; the URL may be plain http) and sign in with SRP. The REST API is a Gen 1
`awsAPIPlugin` endpoint; the Gen 2 schema has no REST API, so it is under `custom.API`, in the
shape Amplify's documentation gives `backend.addOutput` (the app reads it from there).
"""

from __future__ import annotations

from local.cfn_template import Template, load_template, resources_of_type
from receipt_vault.shapes import JsonObject

_GEN1_MFA_TYPES = {"SOFTWARE_TOKEN_MFA": "TOTP", "SMS_MFA": "SMS", "EMAIL_OTP": "EMAIL"}
_GEN2_MFA_CONFIGURATION = {"OFF": "NONE", "OPTIONAL": "OPTIONAL", "ON": "REQUIRED"}
_PASSWORD_CHARACTERS = {
    "RequireLowercase": "REQUIRES_LOWERCASE",
    "RequireUppercase": "REQUIRES_UPPERCASE",
    "RequireNumbers": "REQUIRES_NUMBERS",
    "RequireSymbols": "REQUIRES_SYMBOLS",
}


def amplify_configuration(config: JsonObject, template: Template | None = None) -> JsonObject:
    """amplifyconfiguration.json for `Amplify.configure`, Gen 1 (the Amplify CLI's format)."""
    pool = _UserPool(template)
    auth_settings = {
        "authenticationFlowType": "USER_SRP_AUTH",
        "usernameAttributes": [name.upper() for name in pool.username_attributes],  # [] for plain usernames
        "signupAttributes": [name.upper() for name in pool.required_attributes],
        "verificationMechanisms": [name.upper() for name in pool.verified_attributes],
        "mfaConfiguration": pool.mfa_configuration,
        "mfaTypes": [_GEN1_MFA_TYPES[name] for name in pool.mfa_methods if name in _GEN1_MFA_TYPES],
        "passwordProtectionSettings": {
            "passwordPolicyMinLength": pool.password_policy.get("MinimumLength", 8),
            "passwordPolicyCharacters": [
                character for key, character in _PASSWORD_CHARACTERS.items() if pool.password_policy.get(key)
            ],
        },
    }
    return {
        "UserAgent": "aws-amplify-cli/2.0",
        "Version": "1.0",
        "auth": {
            "plugins": {
                "awsCognitoAuthPlugin": {
                    "UserAgent": "aws-amplify-cli/0.1.0",
                    "Version": "0.1.0",
                    "IdentityManager": {"Default": {}},
                    "CognitoUserPool": {
                        "Default": {
                            "PoolId": config["userPoolId"],
                            "AppClientId": config["userPoolClientId"],
                            "Region": config["region"],
                            "Endpoint": config["cognitoEndpoint"],
                        }
                    },
                    "Auth": {"Default": auth_settings},
                }
            }
        },
        "api": {
            "plugins": {
                "awsAPIPlugin": {
                    pool.api_name: {
                        "endpointType": "REST",
                        "endpoint": config["apiUrl"],
                        "region": config["region"],
                        "authorizationType": "AMAZON_COGNITO_USER_POOLS",
                    }
                }
            }
        },
    }


def amplify_outputs(config: JsonObject, template: Template | None = None) -> JsonObject:
    """amplify_outputs.json, Gen 2 (schema version 1)."""
    pool = _UserPool(template)
    return {
        "version": "1",
        "auth": {
            "aws_region": config["region"],
            "user_pool_id": config["userPoolId"],
            "user_pool_client_id": config["userPoolClientId"],
            "user_pool_endpoint": config["cognitoEndpoint"],
            "password_policy": {
                "min_length": pool.password_policy.get("MinimumLength", 8),
                **{
                    f"require_{key.removeprefix('Require').lower()}": bool(pool.password_policy.get(key))
                    for key in _PASSWORD_CHARACTERS
                },
            },
            "standard_required_attributes": pool.required_attributes,
            "username_attributes": pool.username_attributes or ["username"],
            "user_verification_types": pool.verified_attributes,
            "mfa_configuration": _GEN2_MFA_CONFIGURATION[pool.mfa_configuration],
            "mfa_methods": [_GEN1_MFA_TYPES[name] for name in pool.mfa_methods if name in _GEN1_MFA_TYPES],
        },
        "custom": {
            "API": {pool.api_name: {"endpoint": config["apiUrl"], "region": config["region"], "apiName": pool.api_name}}
        },
    }


class _UserPool:
    """The sign-up and sign-in settings of the template's user pool, as Amplify's UI needs them
    (which attributes to ask for, the password rules to check before sending)."""

    def __init__(self, template: Template | None) -> None:
        template = template or load_template()
        self.properties: Template = next(iter(resources_of_type(template, "AWS::Cognito::UserPool").values()))[
            "Properties"
        ]
        self.api_name = next(iter(resources_of_type(template, "AWS::Serverless::Api")), "api")

    def _strings(self, key: str) -> list[str]:
        value = self.properties.get(key) or []
        return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []

    @property
    def username_attributes(self) -> list[str]:
        return self._strings("UsernameAttributes")

    @property
    def required_attributes(self) -> list[str]:
        return [item["Name"] for item in self.properties.get("Schema", []) if item.get("Required")]

    @property
    def verified_attributes(self) -> list[str]:
        return self._strings("AutoVerifiedAttributes")

    @property
    def mfa_configuration(self) -> str:
        value = self.properties.get("MfaConfiguration", "OFF")
        return value if value in _GEN2_MFA_CONFIGURATION else "OFF"

    @property
    def mfa_methods(self) -> list[str]:
        return self._strings("EnabledMfas") if self.mfa_configuration != "OFF" else []

    @property
    def password_policy(self) -> Template:
        policy: Template = (self.properties.get("Policies") or {}).get("PasswordPolicy") or {}
        return policy
