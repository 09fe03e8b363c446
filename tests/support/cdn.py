"""A CloudFront distribution in moto, as the erasure's CDN step invalidates it."""

from __future__ import annotations

import uuid
from typing import Any

import boto3


def distribution() -> str:
    """A minimal distribution in front of the images bucket; its id."""
    config = {
        "CallerReference": str(uuid.uuid4()),
        "Comment": "thumbnails",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "images",
                    "DomainName": "receiptvault-images-test.s3.eu-west-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {"TargetOriginId": "images", "ViewerProtocolPolicy": "https-only", "MinTTL": 0},
    }
    return boto3.client("cloudfront").create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def invalidated_paths(distribution_id: str) -> list[str]:
    client = boto3.client("cloudfront")
    summaries: list[dict[str, Any]] = client.list_invalidations(DistributionId=distribution_id)["InvalidationList"].get(
        "Items", []
    )
    paths = []
    for summary in summaries:
        batch = client.get_invalidation(DistributionId=distribution_id, Id=summary["Id"])["Invalidation"]
        paths += batch["InvalidationBatch"]["Paths"].get("Items", [])
    return paths
