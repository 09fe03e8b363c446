"""Pre-signed S3 URLs without an S3 client.

`generate_presigned_url` needs an S3 client, and creating one loads S3's service model: about
40 ms of every cold start of this 128 MB function. The signing itself is botocore's own
S3SigV4QueryAuth, which this module calls directly, so the URLs are exactly those
`generate_presigned_url` makes (a test compares them parameter by parameter). Like boto3, it
honours AWS_ENDPOINT_URL (the local stack sets it); otherwise it signs for the bucket's
regional virtual-host endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

import boto3
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest

if TYPE_CHECKING:
    from botocore.credentials import Credentials


def default_credentials() -> Credentials:
    """The credentials of boto3's default session, which the function's clients share: a new
    Session would load botocore's data files a second time."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    # Set up just above; and a Lambda function always has its role's credentials.
    return boto3.DEFAULT_SESSION.get_credentials()  # type: ignore[union-attr,return-value]


class S3Presigner:
    def __init__(self, credentials: Credentials, region: str) -> None:
        self._credentials = credentials  # refreshable: frozen anew for every URL
        self.region = region
        self._endpoint = os.environ.get("AWS_ENDPOINT_URL")

    def url(self, method: str, bucket: str, key: str, expires_in: int, headers: Mapping[str, str] | None = None) -> str:
        """A URL that allows exactly this request, with exactly these headers, for `expires_in` s."""
        path = quote(key, safe="/~")
        if self._endpoint:  # an emulator: path-style addressing
            url = f"{self._endpoint.rstrip('/')}/{bucket}/{path}"
        else:
            url = f"https://{bucket}.s3.{self.region}.amazonaws.com/{path}"
        request = AWSRequest(method=method, url=url, headers=dict(headers or {}))
        signer = S3SigV4QueryAuth(self._credentials.get_frozen_credentials(), "s3", self.region, expires=expires_in)
        signer.add_auth(request)
        return cast(str, request.url)  # the URL it was made with, signed
