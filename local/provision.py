"""Provision, in the AWS emulation, every resource template.yaml declares, read from the template.

Tables, buckets, keys, topics, push platform applications, queues, secrets and the Cognito pool
are created from their own properties, so the local stack cannot drift from what gets deployed.
A reference to a resource provisions it first, which gives dependency order for free. Types
without a local counterpart (IAM roles, log groups, CloudFront, policies) are resolvable by
reference but not created.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, cast, overload

import boto3

from local.cfn_template import Template, TemplateNode, table_definition
from local.emulation import pin_distribution_id
from local.intrinsics import ACCOUNT_ID, Resolver

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudfront.type_defs import CustomOriginConfigTypeDef
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import ServerSideEncryptionRuleTypeDef
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

LOCAL_PUSH_CREDENTIAL = "local-emulated-credential"
LOCAL_CDN_PATH = "/_local/cdn"
_HTTP_ORIGIN: CustomOriginConfigTypeDef = {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}


class LocalResources:
    """Physical ids and attributes of the emulated resources, created on first reference."""

    def __init__(
        self,
        template: Template,
        parameters: dict[str, TemplateNode],
        region: str,
        endpoint_url: str,
        api_url: str = "",
    ) -> None:
        self.template = template
        self.region = region
        self.endpoint_url = endpoint_url
        self.api_url = api_url
        self.resolver = Resolver(template, parameters, region, self.physical_id, self.attribute)
        self._physical: dict[str, str] = {}
        self._attributes: dict[str, dict[str, TemplateNode]] = {}
        self.created: list[str] = []
        self._provisioners: dict[str, Callable[[str, Template], None]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::S3::Bucket": self._bucket,
            "AWS::KMS::Key": self._key,
            "AWS::KMS::Alias": self._alias,
            "AWS::SNS::Topic": self._topic,
            "AWS::SQS::Queue": self._queue,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Cognito::UserPool": self._user_pool,
            "AWS::Cognito::UserPoolClient": self._user_pool_client,
            "Custom::SnsPlatformApplication": self._platform_application,
            "AWS::CloudFront::Distribution": self._distribution,
        }

    @overload
    def client(self, service: Literal["cloudfront"]) -> CloudFrontClient: ...
    @overload
    def client(self, service: Literal["cognito-idp"]) -> CognitoIdentityProviderClient: ...
    @overload
    def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["dynamodbstreams"]) -> DynamoDBStreamsClient: ...
    @overload
    def client(self, service: Literal["kms"]) -> KMSClient: ...
    @overload
    def client(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def client(self, service: Literal["secretsmanager"]) -> SecretsManagerClient: ...
    @overload
    def client(self, service: Literal["sns"]) -> SNSClient: ...
    @overload
    def client(self, service: Literal["sqs"]) -> SQSClient: ...
    def client(self, service: str) -> BaseClient:
        """A client of the emulation; typed per service by the overloads above."""
        return boto3.client(  # type: ignore[call-overload,no-any-return]  # the service is a str here
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 (the emulator accepts any)
        )

    @property
    def resources(self) -> dict[str, Template]:
        resources: dict[str, Template] = self.template["Resources"]
        return resources

    def provision_all(self) -> None:
        for logical_id in self.resources:
            if self.resolver.is_enabled(logical_id):
                self.physical_id(logical_id)

    def resolve(self, value: TemplateNode) -> TemplateNode:
        return self.resolver.resolve(value)

    # -- references ------------------------------------------------------------------------------

    def physical_id(self, logical_id: str) -> str:
        if logical_id not in self._physical:
            resource = self.resources[logical_id]
            provisioner = self._provisioners.get(resource["Type"])
            if provisioner is not None:
                provisioner(logical_id, resource.get("Properties", {}))
                self.created.append(logical_id)
            else:
                self._reference_only(logical_id, resource)
        return self._physical[logical_id]

    def attribute(self, logical_id: str, attribute: str) -> TemplateNode:
        self.physical_id(logical_id)
        attributes = self._attributes.get(logical_id, {})
        if attribute not in attributes:
            return f"{logical_id}.{attribute}"  # harmless placeholder for attributes nothing local uses
        return attributes[attribute]

    def _set(self, logical_id: str, physical_id: str, **attributes: TemplateNode) -> None:
        self._physical[logical_id] = physical_id
        self._attributes[logical_id] = attributes

    def _reference_only(self, logical_id: str, resource: Template) -> None:
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            name = self.resolve(properties.get("FunctionName", logical_id))
            arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}"
            self._set(logical_id, name, Arn=arn)
        elif kind == "AWS::Serverless::Api":
            self._set(
                logical_id,
                "local",
                Stage=self.resolve(properties.get("StageName", "local")),
                RootResourceId="root",
            )
        elif kind == "AWS::Logs::LogGroup":
            name = self.resolve(properties.get("LogGroupName", logical_id))
            self._set(logical_id, name, Arn=f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}:*")
        elif kind == "AWS::IAM::Role":
            self._set(logical_id, logical_id, Arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{logical_id}")
        else:
            self._set(logical_id, logical_id)

    # -- provisioners ----------------------------------------------------------------------------

    def _table(self, logical_id: str, properties: Template) -> None:
        name = self.resolve(properties["TableName"])
        client = self.client("dynamodb")
        created = client.create_table(**table_definition(self.template, logical_id, name))["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        arn = f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}"
        stream = {"StreamArn": created["LatestStreamArn"]} if "LatestStreamArn" in created else {}
        self._set(logical_id, name, Arn=arn, **stream)

    def _bucket(self, logical_id: str, properties: Template) -> None:
        name = self.resolve(properties["BucketName"])
        client = self.client("s3")
        region = cast("BucketLocationConstraintType", self.region)
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        encryption = properties.get("BucketEncryption")
        if encryption:
            rules: list[ServerSideEncryptionRuleTypeDef] = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    "BucketKeyEnabled": rule.get("BucketKeyEnabled", False),
                }
                for rule in self.resolve(encryption["ServerSideEncryptionConfiguration"])
            ]
            client.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
        self._set(
            logical_id,
            name,
            Arn=f"arn:aws:s3:::{name}",
            RegionalDomainName=f"{name}.s3.{self.region}.amazonaws.com",
            DomainName=f"{name}.s3.amazonaws.com",
        )

    def _key(self, logical_id: str, properties: Template) -> None:
        client = self.client("kms")
        key = client.create_key(
            Description=self.resolve(properties.get("Description", logical_id)),
            KeyUsage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            KeySpec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
        )["KeyMetadata"]
        if properties.get("EnableKeyRotation"):
            client.enable_key_rotation(KeyId=key["KeyId"])
        self._set(logical_id, key["KeyId"], Arn=key["Arn"], KeyId=key["KeyId"])

    def _alias(self, logical_id: str, properties: Template) -> None:
        name = self.resolve(properties["AliasName"])
        self.client("kms").create_alias(AliasName=name, TargetKeyId=self.resolve(properties["TargetKeyId"]))
        self._set(logical_id, name)

    def _topic(self, logical_id: str, properties: Template) -> None:
        name = self.resolve(properties.get("TopicName", logical_id))
        arn = self.client("sns").create_topic(Name=name)["TopicArn"]
        self._set(logical_id, arn, TopicArn=arn, TopicName=name)

    def _queue(self, logical_id: str, properties: Template) -> None:
        name = self.resolve(properties.get("QueueName", logical_id))
        attributes: dict[QueueAttributeNameType, str] = {
            key: str(self.resolve(properties[key]))
            for key in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
            )
            if key in properties
        }
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(self.resolve(properties["RedrivePolicy"]))
        client = self.client("sqs")
        url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._set(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)

    def _secret(self, logical_id: str, properties: Template) -> None:
        name = self.resolve(properties.get("Name", logical_id))
        generate = properties.get("GenerateSecretString", {})
        value = properties.get("SecretString") or secrets.token_urlsafe(int(generate.get("PasswordLength", 32)))
        arn = self.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
        self._set(logical_id, arn, Id=arn)

    def _user_pool(self, logical_id: str, properties: Template) -> None:
        resolved = self.resolve(properties)
        arguments = {
            "PoolName": resolved["UserPoolName"],
            **{
                key: resolved[key]
                for key in (
                    "Policies",
                    "UsernameAttributes",
                    "AutoVerifiedAttributes",
                    "MfaConfiguration",
                    "Schema",
                    "AccountRecoverySetting",
                    "AdminCreateUserConfig",
                    "UsernameConfiguration",
                    "VerificationMessageTemplate",
                    "UserPoolTags",
                )
                if key in resolved
            },
        }
        cognito = self.client("cognito-idp")
        pool = cognito.create_user_pool(**arguments)["UserPool"]
        # EnabledMfas is CloudFormation's; the API sets TOTP apart, so the pool reports it enabled
        # (GetUserPoolMfaConfig) as the deployed one does.
        if "SOFTWARE_TOKEN_MFA" in resolved.get("EnabledMfas", []) and resolved.get("MfaConfiguration", "OFF") != "OFF":
            cognito.set_user_pool_mfa_config(
                UserPoolId=pool["Id"],
                SoftwareTokenMfaConfiguration={"Enabled": True},
                MfaConfiguration=resolved["MfaConfiguration"],
            )
        self._set(
            logical_id,
            pool["Id"],
            Arn=pool["Arn"],
            ProviderURL=f"{self.endpoint_url}/{pool['Id']}",
            ProviderName=f"cognito-idp.{self.region}.amazonaws.com/{pool['Id']}",
        )

    def _user_pool_client(self, logical_id: str, properties: Template) -> None:
        resolved = self.resolve(properties)
        arguments = {
            key: resolved[key]
            for key in (
                "UserPoolId",
                "ClientName",
                "GenerateSecret",
                "AccessTokenValidity",
                "IdTokenValidity",
                "RefreshTokenValidity",
                "TokenValidityUnits",
                "PreventUserExistenceErrors",
                "EnableTokenRevocation",
                "AuthSessionValidity",
                "ReadAttributes",
                "WriteAttributes",
            )
            if key in resolved
        }
        # Locally, scripts sign in with a password directly; the deployed client allows SRP only.
        arguments["ExplicitAuthFlows"] = sorted(
            set(resolved.get("ExplicitAuthFlows", [])) | {"ALLOW_USER_PASSWORD_AUTH"}
        )
        client = self.client("cognito-idp").create_user_pool_client(**arguments)["UserPoolClient"]
        self._set(logical_id, client["ClientId"], ClientId=client["ClientId"])

    def _distribution(self, logical_id: str, properties: Template) -> None:
        """A distribution in the emulation, so its id is real (erasure invalidates paths on it).
        What it serves comes from the local CDN, a route of the gateway; its domain carries the
        scheme, as that is plain http."""
        config = properties.get("DistributionConfig", {})
        created = self.client("cloudfront").create_distribution(
            DistributionConfig={
                "CallerReference": logical_id,
                "Comment": str(self.resolve(config.get("Comment", logical_id))),
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [{"Id": "local", "DomainName": "local.example.com", "CustomOriginConfig": _HTTP_ORIGIN}],
                },
                "DefaultCacheBehavior": {"TargetOriginId": "local", "ViewerProtocolPolicy": "allow-all", "MinTTL": 0},
            }
        )["Distribution"]
        stable_id = pin_distribution_id(created["Id"], logical_id)
        self._set(logical_id, stable_id, DomainName=f"{self.api_url}{LOCAL_CDN_PATH}", Id=stable_id)

    def _platform_application(self, logical_id: str, properties: Template) -> None:
        resolved = self.resolve(properties)
        arn = self.client("sns").create_platform_application(
            Name=resolved["Name"],
            Platform=resolved["Platform"],
            Attributes={"PlatformCredential": LOCAL_PUSH_CREDENTIAL},
        )["PlatformApplicationArn"]
        self._set(logical_id, arn, Arn=arn)
