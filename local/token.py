"""`make token`: print a fresh access token for the demo user of a running local stack."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from typing import TYPE_CHECKING

import boto3
from pycognito.aws_srp import AWSSRP

from receipt_vault.shapes import JsonObject

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient


def fetch_config(api_url: str) -> JsonObject:
    with urllib.request.urlopen(f"{api_url}/_local/config", timeout=5) as response:  # noqa: S310 (local URL)
        config: JsonObject = json.load(response)
    return config


def cognito_client(config: JsonObject) -> CognitoIdentityProviderClient:
    """A Cognito client for the emulated pool that /_local/config describes."""
    return boto3.client(
        "cognito-idp",
        region_name=config["region"],
        endpoint_url=config["cognitoEndpoint"],
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (the emulator accepts any)
    )


def access_token(config: JsonObject, email: str, password: str) -> str:
    """Signs in with SRP, as the app does (Amplify's default, and the only password flow the
    deployed app client allows): the password itself never goes over the wire."""
    srp = AWSSRP(
        username=email,
        password=password,
        pool_id=config["userPoolId"],
        client_id=config["userPoolClientId"],
        client=cognito_client(config),
    )
    token: str = srp.authenticate_user()["AuthenticationResult"]["AccessToken"]
    return token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.token", description=__doc__)
    parser.add_argument("--api", default="http://127.0.0.1:3000")
    args = parser.parse_args(argv)
    try:
        config = fetch_config(args.api)
    except OSError:
        print(f"No local stack answers at {args.api}; start it with `make dev`.", file=sys.stderr)
        return 1
    print(access_token(config, config["demoUser"]["email"], config["demoUser"]["password"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
