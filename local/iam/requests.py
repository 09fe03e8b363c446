"""From one API call to the authorisation requests AWS evaluates for it.

Most operations are one request: the action of the same name on the resource the parameters
name. The exceptions are written out below, per service: S3's actions that differ from its
operations, DynamoDB's batches and transactions (one request per table or per item), and the
requests a service makes with the caller's credentials (S3 and Textract reading KMS-encrypted
objects, Bedrock's inference profiles, Scheduler passing a role).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

from local.iam.lookups import Lookups
from local.iam.policy import Request

# The IAM service prefix where it differs from botocore's service name.
SERVICE_PREFIX = {"bedrock-runtime": "bedrock", "bedrock-agent-runtime": "bedrock", "monitoring": "cloudwatch"}

# An AWS call's parameters as botocore hands them to the guard: shaped per operation by its
# service model (nested structures, lists, blobs), read by name where a request needs one.
ApiParams: TypeAlias = Mapping[str, Any]

# Operations that need no permission at all.
UNAUTHORISED = {("sts", "GetCallerIdentity")}


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    params: ApiParams
    region: str
    account_id: str
    lookups: Lookups

    def prefix(self) -> str:
        return SERVICE_PREFIX.get(self.service, self.service)

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account_id if account is None else account
        return f"arn:aws:{service}:{region}:{account}:{resource}"


def _ctx(**values: object) -> dict[str, tuple[str, ...]]:
    """Context keys from keyword-ish names: `s3__prefix` -> `s3:prefix`. None drops a key."""
    context: dict[str, tuple[str, ...]] = {}
    for name, value in values.items():
        if value is None:
            continue
        key = name.replace("__", ":").replace("_", "-").lower()
        context[key] = tuple(str(v) for v in value) if isinstance(value, list | tuple | set) else (str(value),)
    return context


def requests_for(call: Call) -> list[Request]:
    if (call.service, call.operation) in UNAUTHORISED:
        return []
    builder = _BUILDERS.get(call.service)
    if builder is not None:
        built = builder(call)
        if built is not None:
            return built
    return [Request(f"{call.prefix()}:{call.operation}", "*")]


# -- DynamoDB ----------------------------------------------------------------------------------------


def _attribute_text(value: Mapping[str, object]) -> str:
    ((kind, raw),) = value.items()
    if kind == "B":
        import base64

        return base64.b64encode(raw if isinstance(raw, bytes) else str(raw).encode()).decode()
    return str(raw)


def _table(call: Call, name: str) -> tuple[str, str]:
    """(table name, table ARN): TableName may be either."""
    if name.startswith("arn:"):
        return name.split(":table/", 1)[1].split("/", 1)[0], name
    return name, call.arn("dynamodb", f"table/{name}")


def _leading(
    call: Call, table: str, index: str | None, keys: list[Mapping[str, Mapping[str, object]]]
) -> tuple[str, ...] | None:
    """The partition key values of the given keys or items; None if the table is unknown."""
    partition = call.lookups.partition_keys(table)
    if partition is None or (index not in partition):
        return None
    attribute = partition[index]
    return tuple(sorted({_attribute_text(key[attribute]) for key in keys if attribute in key}))


def _query_leading(call: Call, table: str, index: str | None) -> tuple[str, ...] | None:
    partition = call.lookups.partition_keys(table)
    if partition is None or index not in partition:
        return None
    attribute = partition[index]
    params = call.params
    if "KeyConditions" in params:
        condition = params["KeyConditions"].get(attribute)
        if condition and condition.get("ComparisonOperator") == "EQ":
            return tuple(_attribute_text(v) for v in condition["AttributeValueList"])
    expression = params.get("KeyConditionExpression")
    if expression:
        names = params.get("ExpressionAttributeNames", {})
        values = params.get("ExpressionAttributeValues", {})
        for left, right in re.findall(r"([#:\w.]+)\s*=\s*([#:\w.]+)", expression):
            for name, value in ((left, right), (right, left)):
                if names.get(name, name) == attribute and value.startswith(":") and value in values:
                    return (_attribute_text(values[value]),)
    raise RuntimeError(
        f"local.iam cannot tell the partition key value of this Query on {table}: "
        f"no equality on {attribute} in its key condition"
    )


def _dynamodb_request(
    call: Call, action: str, table_name: str, index: str | None, leading: tuple[str, ...] | None, **extra: object
) -> Request:
    _, arn = _table(call, table_name)
    resource = f"{arn}/index/{index}" if index else arn
    context = _ctx(**extra)
    if leading is not None:
        context["dynamodb:leadingkeys"] = leading
    return Request(f"dynamodb:{action}", resource, context)


def _dynamodb(call: Call) -> list[Request] | None:
    op, params = call.operation, call.params
    if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        name = _table(call, params["TableName"])[0]
        key = params.get("Key") if op != "PutItem" else params.get("Item")
        return [_dynamodb_request(call, op, params["TableName"], None, _leading(call, name, None, [key or {}]))]
    if op == "Query":
        name, index = _table(call, params["TableName"])[0], params.get("IndexName")
        return [_dynamodb_request(call, op, params["TableName"], index, _query_leading(call, name, index))]
    if op == "Scan":
        return [_dynamodb_request(call, op, params["TableName"], params.get("IndexName"), None)]
    if op == "BatchGetItem":
        return [
            _dynamodb_request(
                call, op, table, None, _leading(call, _table(call, table)[0], None, list(spec.get("Keys", [])))
            )
            for table, spec in params["RequestItems"].items()
        ]
    if op == "BatchWriteItem":  # dynamodb:BatchWriteItem itself, per table (Service Authorization Reference)
        requests = []
        for table, writes in params["RequestItems"].items():
            keys = [w["PutRequest"]["Item"] if "PutRequest" in w else w["DeleteRequest"]["Key"] for w in writes]
            requests.append(
                _dynamodb_request(call, op, table, None, _leading(call, _table(call, table)[0], None, keys))
            )
        return requests
    if op in ("TransactWriteItems", "TransactGetItems"):
        # Each item is authorised as its own action (DynamoDB's "Using IAM with transactions").
        actions = {
            "ConditionCheck": "ConditionCheckItem",
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "Get": "GetItem",
        }
        requests = []
        for item in params["TransactItems"]:
            ((kind, spec),) = item.items()
            table = spec["TableName"]
            key = spec.get("Item") if kind == "Put" else spec.get("Key")
            leading = _leading(call, _table(call, table)[0], None, [key or {}])
            requests.append(
                _dynamodb_request(call, actions[kind], table, None, leading, dynamodb__EnclosingOperation=op)
            )
        return requests
    if "TableName" in params:
        return [_dynamodb_request(call, op, params["TableName"], None, None)]
    return None


# -- S3 ----------------------------------------------------------------------------------------------

S3_BUCKET_ACTIONS = {
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
}
S3_OBJECT_ACTIONS = {
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListParts": "ListMultipartUploadParts",
}
# Operations whose action gains a "Version" suffix when they name a version.
S3_VERSIONED = {
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "GetObjectTagging",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "GetObjectAcl",
    "PutObjectAcl",
}
# Operations whose request prefix is the s3:prefix condition key (ListBucketMultipartUploads has none).
S3_LISTINGS = {"ListObjects", "ListObjectsV2", "ListObjectVersions"}


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _s3_action(operation: str, versioned: bool) -> str:
    action = S3_OBJECT_ACTIONS.get(operation, operation)
    if versioned and operation in S3_VERSIONED:
        action += "Version"
    return f"s3:{action}"


def _kms_via(
    call: Call, action: str, key: str | None, bucket_key: bool, bucket: str, obj: str, error: tuple[str, int]
) -> list[Request]:
    """The KMS request S3 makes with the caller's credentials for an SSE-KMS object. Keys AWS
    manages (aws/s3) need no identity permission: their key policy allows the account."""
    if key is None:
        return []
    arn, customer_managed = call.lookups.key(key)
    if not customer_managed:
        return []
    encryption_arn = bucket_arn(bucket) if bucket_key else object_arn(bucket, obj)
    context = _ctx(
        kms__ViaService=f"s3.{call.region}.amazonaws.com",
        kms__CallerAccount=call.account_id,
        aws__ViaAWSService="true",
    )
    context["kms:encryptioncontext:aws:s3:arn"] = (encryption_arn,)
    context["kms:encryptioncontextkeys"] = ("aws:s3:arn",)
    return [Request(action, arn, context, via="s3", error=error)]


def _write_key(call: Call, bucket: str, params: ApiParams) -> tuple[str | None, bool]:
    algorithm = params.get("ServerSideEncryption")
    default_key, bucket_key = call.lookups.bucket_default_key(bucket)
    if algorithm is None:
        return default_key, bucket_key
    if str(algorithm).startswith("aws:kms"):
        return params.get("SSEKMSKeyId") or default_key or "alias/aws/s3", bool(
            params.get("BucketKeyEnabled", bucket_key)
        )
    return None, False


S3_DENIED = ("AccessDenied", 403)


def s3_object_requests(
    call: Call, operation: str, bucket: str, key: str, params: ApiParams, error: tuple[str, int] | None = None
) -> list[Request]:
    """An object operation, with the KMS request S3 makes for it on an SSE-KMS object."""
    version = params.get("VersionId")
    context = _ctx(
        s3__x_amz_server_side_encryption=params.get("ServerSideEncryption"),
        s3__x_amz_server_side_encryption_aws_kms_key_id=params.get("SSEKMSKeyId"),
        s3__x_amz_acl=params.get("ACL"),
        s3__VersionId=version,
    )
    requests = [Request(_s3_action(operation, bool(version)), object_arn(bucket, key), context, error=error)]
    kms_error = error or S3_DENIED
    if operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
        requests += _kms_via(call, "kms:GenerateDataKey", *_write_key(call, bucket, params), bucket, key, kms_error)
    elif operation in ("UploadPart", "UploadPartCopy"):
        # S3 decrypts the upload's data key for each part; the upload's key is taken to be the
        # bucket's default (the key CreateMultipartUpload named is not remembered).
        requests += _kms_via(call, "kms:Decrypt", *call.lookups.bucket_default_key(bucket), bucket, key, kms_error)
    elif operation == "CompleteMultipartUpload":
        parts = (params.get("MultipartUpload") or {}).get("Parts", [])
        if any(name.startswith("Checksum") for part in parts for name in part):
            requests += _kms_via(call, "kms:Decrypt", *call.lookups.bucket_default_key(bucket), bucket, key, kms_error)
    elif operation == "GetObject" or (operation == "HeadObject" and params.get("ChecksumMode") == "ENABLED"):
        requests += _kms_via(
            call, "kms:Decrypt", *call.lookups.object_key(bucket, key, version), bucket, key, kms_error
        )
    return requests


def _copy_source(value: object) -> tuple[str, str, str | None]:
    if isinstance(value, Mapping):
        return value["Bucket"], value["Key"], value.get("VersionId")
    text = unquote(str(value)).lstrip("/")
    path, _, query = text.partition("?versionId=")
    bucket, _, key = path.partition("/")
    return bucket, key, query or None


def _s3(call: Call) -> list[Request] | None:
    op, params = call.operation, call.params
    if op == "ListBuckets":
        return [Request("s3:ListAllMyBuckets", "*")]
    bucket = params.get("Bucket")
    if bucket is None:
        return None
    if op == "DeleteObjects":
        return [
            Request(
                _s3_action("DeleteObject", "VersionId" in o),
                object_arn(bucket, o["Key"]),
                _ctx(s3__VersionId=o.get("VersionId")),
            )
            for o in params["Delete"]["Objects"]
        ]
    if op in ("CopyObject", "UploadPartCopy"):
        source_bucket, source_key, source_version = _copy_source(params["CopySource"])
        target = s3_object_requests(
            call, "CopyObject" if op == "CopyObject" else "UploadPart", bucket, params["Key"], params
        )
        source = s3_object_requests(
            call, "GetObject", source_bucket, source_key, {"VersionId": source_version} if source_version else {}
        )
        return target + source
    if "Key" in params:
        return s3_object_requests(call, op, bucket, params["Key"], params)
    action = f"s3:{S3_BUCKET_ACTIONS.get(op, op)}"
    context = {}
    if op in S3_LISTINGS:
        context = _ctx(
            s3__prefix=params.get("Prefix"), s3__delimiter=params.get("Delimiter"), s3__max_keys=params.get("MaxKeys")
        )
    return [Request(action, bucket_arn(bucket), context)]


def parse_presigned(method: str, url: str, headers: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """A pre-signed S3 URL, as the operation and parameters of the request it will make:
    virtual-hosted (`bucket.s3.region.amazonaws.com/key`) or path-style (`endpoint/bucket/key`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = unquote(parts.path).lstrip("/")
    hosted = re.match(r"^(?P<bucket>.+)\.s3[.-]", host)
    if hosted:
        bucket, key = hosted.group("bucket"), path
    else:
        bucket, _, key = path.partition("/")
    query = {name: value for name, _, value in (pair.partition("=") for pair in parts.query.split("&") if pair)}
    lowered = {name.lower(): value for name, value in headers.items()}
    params: dict[str, str] = {"Bucket": bucket}
    if key:
        params["Key"] = key
    if "versionId" in query:
        params["VersionId"] = unquote(query["versionId"])
    if "x-amz-server-side-encryption" in lowered:
        params["ServerSideEncryption"] = lowered["x-amz-server-side-encryption"]
    if "x-amz-server-side-encryption-aws-kms-key-id" in lowered:
        params["SSEKMSKeyId"] = lowered["x-amz-server-side-encryption-aws-kms-key-id"]
    if not key:
        return "ListObjectsV2", params
    operation = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(
        method.upper(), "GetObject"
    )
    if operation == "PutObject" and "uploadId" in query:
        operation = "UploadPart"
    return operation, params


# -- KMS, Secrets Manager, SSM -----------------------------------------------------------------------

_KMS_KEY_PARAMS = ("KeyId", "DestinationKeyId", "TargetKeyId")


def _kms(call: Call) -> list[Request] | None:
    params = call.params
    requests = []
    named = [params[name] for name in _KMS_KEY_PARAMS if name in params]
    if call.operation == "ReEncrypt" and "SourceKeyId" not in params:
        source = call.lookups.ciphertext_key(params["CiphertextBlob"])
        named += [source] if source else []
    elif "SourceKeyId" in params:
        named.append(params["SourceKeyId"])
    if call.operation == "Decrypt" and "KeyId" not in params:
        found = call.lookups.ciphertext_key(params["CiphertextBlob"])
        named += [found] if found else []
    if not named:
        return None
    context = _ctx(kms__CallerAccount=call.account_id)
    for name, value in (params.get("EncryptionContext") or {}).items():
        context[f"kms:encryptioncontext:{name}".lower()] = (str(value),)
    if params.get("EncryptionContext"):
        context["kms:encryptioncontextkeys"] = tuple(params["EncryptionContext"])
    action = "kms:ReEncryptFrom" if call.operation == "ReEncrypt" else f"kms:{call.operation}"
    for index, key in enumerate(named):
        arn, _ = call.lookups.key(str(key))
        request_context = dict(context)
        if str(key).startswith("alias/") or ":alias/" in str(key):
            request_context["kms:requestalias"] = (str(key).split(":", 5)[-1],)
        if call.operation == "ReEncrypt":
            action = "kms:ReEncryptTo" if index == 0 else "kms:ReEncryptFrom"
        requests.append(Request(action, arn, request_context))
    return requests


def _kms_through(call: Call, service: str, key: str | None, action: str = "kms:Decrypt") -> list[Request]:
    """A KMS request a service makes with the caller's credentials (SecureString parameters,
    secrets) under a customer managed key; AWS managed keys need no identity permission."""
    if key is None:
        return []
    arn, customer_managed = call.lookups.key(key)
    if not customer_managed:
        return []
    context = _ctx(
        kms__ViaService=f"{service}.{call.region}.amazonaws.com",
        kms__CallerAccount=call.account_id,
        aws__ViaAWSService="true",
    )
    return [Request(action, arn, context, via=service)]


def _secretsmanager(call: Call) -> list[Request] | None:
    secret_id = call.params.get("SecretId")
    if secret_id is None:
        name = call.params.get("Name")
        if call.operation == "CreateSecret" and name:
            return [Request("secretsmanager:CreateSecret", call.arn("secretsmanager", f"secret:{name}"))]
        return None
    arn, key = call.lookups.secret(str(secret_id))
    requests = [Request(f"secretsmanager:{call.operation}", arn, _ctx(secretsmanager__SecretId=arn))]
    if call.operation == "GetSecretValue":
        requests += _kms_through(call, "secretsmanager", key)
    return requests


def _parameter_arn(call: Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("ssm", f"parameter/{name.lstrip('/')}")


def _ssm(call: Call) -> list[Request] | None:
    params = call.params
    names = [params["Name"]] if "Name" in params else list(params.get("Names", []))
    if "Path" in params:
        names = [params["Path"]]
    if not names:
        return None
    requests = []
    for name in names:
        requests.append(Request(f"ssm:{call.operation}", _parameter_arn(call, str(name))))
        if call.operation in ("GetParameter", "GetParameters") and params.get("WithDecryption"):
            requests += _kms_through(call, "ssm", call.lookups.parameter_key(str(name)))
    return requests


# -- messaging ---------------------------------------------------------------------------------------


def queue_arn(call: Call, url: str) -> str:
    """`https://sqs.eu-west-1.amazonaws.com/123456789012/name`, or an emulator's
    `http://host:port/123456789012/name`."""
    parts = [part for part in urlsplit(url).path.split("/") if part]
    account, name = parts[-2], parts[-1]
    host = urlsplit(url).hostname or ""
    region = host.split(".")[1] if host.startswith("sqs.") and host.count(".") >= 2 else call.region
    return call.arn("sqs", name, region=region, account=account)


_SQS_BATCHES = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(call: Call) -> list[Request] | None:
    params, op = call.params, call.operation
    action = f"sqs:{_SQS_BATCHES.get(op, op)}"
    if "QueueUrl" in params:
        return [Request(action, queue_arn(call, params["QueueUrl"]))]
    if "QueueName" in params:
        return [Request(action, call.arn("sqs", params["QueueName"], account=params.get("QueueOwnerAWSAccountId")))]
    return None


def _sns(call: Call) -> list[Request] | None:
    params, op = call.params, call.operation
    action = "sns:Publish" if op == "PublishBatch" else f"sns:{op}"
    for name in ("TopicArn", "TargetArn", "EndpointArn", "PlatformApplicationArn", "ResourceArn"):
        if name in params:
            return [Request(action, str(params[name]))]
    if "SubscriptionArn" in params:
        return [Request(action, str(params["SubscriptionArn"]).rsplit(":", 1)[0])]
    if op == "CreateTopic" and "Name" in params:
        return [Request(action, call.arn("sns", params["Name"]))]
    return None


# -- the rest ----------------------------------------------------------------------------------------


def _cognito(call: Call) -> list[Request] | None:
    pool = call.params.get("UserPoolId")
    if pool is None:
        return None
    return [Request(f"cognito-idp:{call.operation}", call.arn("cognito-idp", f"userpool/{pool}"))]


def _cloudfront(call: Call) -> list[Request] | None:
    distribution = call.params.get("DistributionId") or call.params.get("Id")
    if distribution is None or call.operation.startswith(("GetCachePolicy", "GetOriginAccessControl", "GetFunction")):
        return None
    return [
        Request(f"cloudfront:{call.operation}", f"arn:aws:cloudfront::{call.account_id}:distribution/{distribution}")
    ]


INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca.")


def _bedrock(call: Call) -> list[Request] | None:
    model = call.params.get("modelId")
    if model is None:
        return None
    streaming = call.operation in ("InvokeModelWithResponseStream", "ConverseStream")
    action = "bedrock:InvokeModelWithResponseStream" if streaming else "bedrock:InvokeModel"
    model = str(model)
    if model.startswith("arn:"):
        resource = model
        profile = model.split(":", 5)[-1].removeprefix("inference-profile/") if ":inference-profile/" in model else None
    elif model.startswith(INFERENCE_PROFILE_PREFIXES):
        resource, profile = call.arn("bedrock", f"inference-profile/{model}"), model
    else:
        return [Request(action, call.arn("bedrock", f"foundation-model/{model}", account=""))]
    requests = [Request(action, resource)]
    if profile is not None:
        # A cross-region profile invokes its foundation model in a destination region, with the
        # caller's credentials and the profile's ARN in the context (taken here to be this
        # region: the policy names the model's region as * anyway).
        foundation = profile.split(".", 1)[1]
        context = _ctx(bedrock__InferenceProfileArn=resource)
        requests.append(Request(action, call.arn("bedrock", f"foundation-model/{foundation}", account=""), context))
    return requests


TEXTRACT_S3_DENIED = ("InvalidS3ObjectException", 400)


def _textract(call: Call) -> list[Request] | None:
    document = call.params.get("Document") or call.params.get("DocumentLocation") or {}
    requests = [Request(f"textract:{call.operation}", "*")]
    s3_object = document.get("S3Object")
    if s3_object:
        # Textract reads the object with the caller's credentials; a refusal is its
        # InvalidS3ObjectException, not an access denial of Textract's own.
        params = {"VersionId": s3_object["Version"]} if s3_object.get("Version") else {}
        requests += s3_object_requests(
            call, "GetObject", s3_object["Bucket"], s3_object["Name"], params, TEXTRACT_S3_DENIED
        )
    return requests


def _scheduler(call: Call) -> list[Request] | None:
    params, op = call.params, call.operation
    if op in ("CreateScheduleGroup", "DeleteScheduleGroup", "GetScheduleGroup"):
        return [Request(f"scheduler:{op}", call.arn("scheduler", f"schedule-group/{params['Name']}"))]
    if "Name" not in params:
        return None
    group = params.get("GroupName") or "default"
    requests = [Request(f"scheduler:{op}", call.arn("scheduler", f"schedule/{group}/{params['Name']}"))]
    role = (params.get("Target") or {}).get("RoleArn")
    if role and op in ("CreateSchedule", "UpdateSchedule"):
        context = _ctx(iam__PassedToService="scheduler.amazonaws.com")
        requests.append(Request("iam:PassRole", role, context))
    return requests


def _lambda(call: Call) -> list[Request] | None:
    name = call.params.get("FunctionName")
    if name is None:
        return None
    name = str(name)
    arn = name if name.startswith("arn:") else call.arn("lambda", f"function:{name}")
    return [Request(f"lambda:{call.operation}", arn)]


def _logs(call: Call) -> list[Request] | None:
    group = call.params.get("logGroupName")
    if group is None:
        return None
    stream = call.params.get("logStreamName")
    suffix = f":log-stream:{stream}" if stream and call.operation in ("CreateLogStream", "PutLogEvents") else ""
    return [Request(f"logs:{call.operation}", call.arn("logs", f"log-group:{group}{suffix}"))]


def _sts(call: Call) -> list[Request] | None:
    role = call.params.get("RoleArn")
    return [Request(f"sts:{call.operation}", str(role))] if role else None


_BUILDERS: dict[str, Callable[[Call], list[Request] | None]] = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "kms": _kms,
    "secretsmanager": _secretsmanager,
    "ssm": _ssm,
    "sqs": _sqs,
    "sns": _sns,
    "cognito-idp": _cognito,
    "cloudfront": _cloudfront,
    "bedrock-runtime": _bedrock,
    "textract": _textract,
    "scheduler": _scheduler,
    "lambda": _lambda,
    "logs": _logs,
    "sts": _sts,
}
