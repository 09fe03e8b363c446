"""The AWS services an erasure deletes from, other than the table (erasure_store.py): the Cognito
user, the objects in the images and exports buckets, the devices' SNS endpoints and the CDN's cache.

Every SDK call of the erasure outside DynamoDB is made here. What an earlier run already deleted
comes back as a return value (`delete_user` is False, `endpoint` is None); S3 refusing to delete
some objects is `DeletionStepError`. Any other AWS error goes on as it came: the step is not
done, and the queued rerun tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef
    from mypy_boto3_sns import SNSClient

DELETE_OBJECTS_LIMIT = 1000
ENDPOINT_GONE_CODES = ("NotFound", "NotFoundException")


class DeletionStepError(RuntimeError):
    """S3 refused to delete some objects: the step is not done, and a rerun will try again."""


@dataclass(frozen=True)
class Endpoint:
    owner: str | None  # the endpoint's CustomUserData: the user it was registered for


class ErasureGateway:
    def __init__(
        self,
        cognito: CognitoIdentityProviderClient,
        s3: S3Client,
        sns: SNSClient,
        cloudfront: CloudFrontClient,
        user_pool_id: str,
        images_bucket: str,
        exports_bucket: str,
        distribution_id: str,
        inbound_bucket: str = "",
    ) -> None:
        self.cognito = cognito
        self.s3 = s3
        self.sns = sns
        self.cloudfront = cloudfront
        self.user_pool_id = user_pool_id
        self.images_bucket = images_bucket
        self.exports_bucket = exports_bucket
        self.distribution_id = distribution_id
        self.inbound_bucket = inbound_bucket  # empty: this deployment receives no mail

    def delete_user(self, username: str) -> bool:
        """AdminDeleteUser; False if the user is gone already (deleted by an earlier run)."""
        try:
            self.cognito.admin_delete_user(UserPoolId=self.user_pool_id, Username=username)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "UserNotFoundException":
                raise
            return False
        return True

    def delete_images(self, prefix: str) -> int:
        """Every version and delete marker under the prefix in the images bucket: how many."""
        return self._delete_every_version(self.images_bucket, prefix)

    def delete_raw_mail(self, raw_keys: list[str]) -> int:
        """These raw messages in the inbound bucket (unversioned), gone or not: how many."""
        if not self.inbound_bucket:
            return 0
        for key in raw_keys:
            self.s3.delete_object(Bucket=self.inbound_bucket, Key=key)
        return len(raw_keys)

    def abort_export_uploads(self, prefix: str) -> None:
        """Abort every multipart upload in flight under the prefix in the exports bucket."""
        for page in self.s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.exports_bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                self.s3.abort_multipart_upload(
                    Bucket=self.exports_bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )

    def delete_exports(self, prefix: str) -> int:
        """Every version and delete marker under the prefix in the exports bucket: how many."""
        return self._delete_every_version(self.exports_bucket, prefix)

    def endpoint(self, arn: str) -> Endpoint | None:
        """The SNS endpoint, or None if it is gone already."""
        try:
            attributes = self.sns.get_endpoint_attributes(EndpointArn=arn).get("Attributes", {})
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ENDPOINT_GONE_CODES:
                raise
            return None
        return Endpoint(attributes.get("CustomUserData"))

    def delete_endpoint(self, arn: str) -> None:
        self.sns.delete_endpoint(EndpointArn=arn)

    def invalidate(self, path: str, caller_reference: str) -> None:
        """One CloudFront invalidation of one (wildcard) path."""
        self.cloudfront.create_invalidation(
            DistributionId=self.distribution_id,
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": [path]}, "CallerReference": caller_reference},
        )

    def _delete_every_version(self, bucket: str, prefix: str) -> int:
        """Every object version and delete marker under the prefix, 1,000 a call."""
        deleted = 0
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            targets: list[ObjectIdentifierTypeDef] = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            for start in range(0, len(targets), DELETE_OBJECTS_LIMIT):
                batch = targets[start : start + DELETE_OBJECTS_LIMIT]
                response = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                if response.get("Errors"):
                    codes = sorted({error.get("Code", "") for error in response["Errors"]})
                    raise DeletionStepError(f"{len(response['Errors'])} objects not deleted: {codes}")
                deleted += len(batch)
        return deleted
