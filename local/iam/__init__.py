"""Each function runs with exactly its template role: every AWS call it makes is authorised
against the identity policies template.yaml gives that role, intrinsics resolved, and a call
the role does not allow fails as AWS would fail it, before it reaches the emulation.

    policies = role_policies(template, "ReceiptCrudFunction", resources.resolve)
    guard = RoleGuard(policies, "receiptvault-receipt-crud-dev", "eu-west-1", "123456789012")
    install()                      # once per process: the botocore hooks
    with enforce(guard):           # or bind_process(guard) in a one-function worker
        handler(event, context)

Why its own evaluator: no maintained Python library evaluates identity policies against a
request with its context keys. parliament and policy_sentry lint or write policies; moto's IAM
mode checks actions against "*" for almost every service; AWS's own evaluator (the IAM policy
simulator) needs an account and the network. So this one is small, tested against the
documented rules (tests/local_stack/test_iam_policy.py), and lists below what it leaves out.

What it models (AWS's documented evaluation logic for one principal's identity policies):
  - default deny; an explicit Deny wins over any Allow; Action/NotAction (case-insensitive,
    `*` and `?`), Resource/NotResource (case-sensitive, ARN-segment wildcards);
  - conditions: String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress/NotIpAddress,
    Arn*, Null, ...IfExists, ForAllValues:/ForAnyValue: (missing keys as AWS documents:
    ForAllValues and negated operators hold, the others do not). Unknown operators, policy
    variables (`${aws:username}`) and elements other than Sid/Effect/Action/NotAction/
    Resource/NotResource/Condition are refused when the role is read;
  - the requests an operation really makes (local/iam/requests.py): DynamoDB tables and
    index ARNs with dynamodb:LeadingKeys (Key, Item, the key condition's partition value,
    every key of a batch per table), TransactWriteItems/TransactGetItems as one request per
    item with its own action, BatchWriteItem as dynamodb:BatchWriteItem per table; S3
    buckets vs objects, s3:prefix on listings, versions (s3:GetObjectVersion,
    s3:DeleteObjectVersion), DeleteObjects per object (refused ones come back under Errors,
    as S3 answers), copies (source and target), pre-signed URLs (authorised when signed);
    the KMS request S3 makes with the caller's credentials on SSE-KMS objects
    (kms:GenerateDataKey to write, kms:Decrypt to read and for multipart parts, with
    kms:ViaService s3.<region>.amazonaws.com, kms:CallerAccount and the aws:s3:arn encryption
    context), the bucket's default encryption or the object's own key read with an unchecked
    client; KMS key ids, aliases and ciphertexts resolved to key ARNs (kms:RequestAlias);
    Secrets Manager names resolved to the full ARN with its random suffix; SSM parameter
    ARNs (and kms:Decrypt through SSM or Secrets Manager for customer managed keys); SQS queue
    URLs to ARNs (batch operations as their single action); SNS topics, platform
    applications and endpoints; Cognito user pools; CloudFront distributions; Bedrock
    foundation models and inference profiles (the profile, then its foundation model with
    bedrock:InferenceProfileArn); Textract's read of an S3 document (InvalidS3ObjectException
    when refused); Scheduler schedules and groups, with iam:PassRole (iam:PassedToService) for
    a target role; Lambda functions; CloudWatch Logs groups and streams;
  - the Lambda service's own requests with the role (runtime_requests): logs, traces, SQS
    event sources, destinations and dead-letter queues; tests check those, as AWS drops what
    they would carry silently rather than failing an invocation;
  - AWS's error shapes: DynamoDB/KMS/Secrets Manager/SSM/Cognito/Textract
    AccessDeniedException 400, S3/SQS/CloudFront AccessDenied 403, SNS AuthorizationError 403,
    Bedrock/Scheduler/Lambda AccessDeniedException 403 (as botocore's service models declare),
    with AWS's message (`User: arn:aws:sts::...:assumed-role/<Role>/<Function> is not authorized
    to perform: <action> on resource: <arn> because no identity-based policy allows the
    <action> action`); one JSON line on stderr per denial, without personal data.

What it does not model:
  - resource-based policies (bucket, key, queue, topic, secret policies), SCPs and RCPs,
    permission boundaries, session policies, VPC endpoint policies, ACLs, and cross-account
    access: only the role's identity policies decide (the template's bucket policy Denies, for
    example, are not applied; KMS key policies are taken to delegate to IAM);
  - policy variables; tag-based conditions (aws:ResourceTag, aws:RequestTag, aws:TagKeys) and
    any context key not listed above are absent, so a condition on them behaves as on a
    missing key; aws:SourceIp, aws:SourceVpc(e), aws:CalledVia, aws:MultiFactorAuth*;
  - an operation without a mapping in requests.py is one request, `<prefix>:<Operation>` on
    "*" (right for actions without resource-level permissions, otherwise denied unless the
    role grants "*"); PartiQL (ExecuteStatement) is such an operation;
  - dynamodb:Attributes, dynamodb:Select, dynamodb:ReturnValues; on a Query of an index,
    dynamodb:LeadingKeys is the index's partition key value;
  - implicit KMS requests other than S3's, SSM's and Secrets Manager's (SQS and SNS
    server-side encryption with customer keys, DynamoDB, which uses its own grant); the key of
    a multipart upload is taken to be the bucket's default for UploadPart; S3 Bucket Keys
    are treated as plain SSE-KMS (the permission is required either way);
  - sts:GetCallerIdentity needs no permission (as in AWS); credentials, signatures and
    expiry of pre-signed URLs are not checked here (moto or the local S3 does that);
  - a pre-signed URL is authorised when it is signed, not when it is used: AWS signs
    anything and refuses the request when it arrives (403 AccessDenied); failing at signing
    makes the missing permission show in the function that signs;
  - AWS managed policies other than the few in roles.AWS_MANAGED_POLICIES (refused);
    roles that SAM generates from `Policies:` or that come from outside the template
    (refused).
"""

from __future__ import annotations

from collections.abc import Mapping

from local.cfn_template import TemplateNode
from local.iam.guard import (
    DENIAL_ERRORS,
    Decision,
    RoleGuard,
    active_guard,
    bind_process,
    enforce,
    install,
    loggable_resource,
    recording,
    unchecked,
)
from local.iam.policy import Evaluation, Request, RolePolicies, Statement, evaluate
from local.iam.roles import (
    AWS_MANAGED_POLICIES,
    Resolve,
    environment_resolver,
    function_for_code,
    function_name,
    role_policies,
    runtime_requests,
)


def guard_for(template: Mapping[str, TemplateNode], function_logical_id: str, resolve: Resolve) -> RoleGuard:
    """The guard of one function, with its role, physical name, region and account as
    `resolve` gives them."""
    return RoleGuard(
        role_policies(template, function_logical_id, resolve),
        function_name(template, function_logical_id, resolve),
        str(resolve({"Ref": "AWS::Region"})),
        str(resolve({"Ref": "AWS::AccountId"})),
    )


__all__ = [
    "AWS_MANAGED_POLICIES",
    "DENIAL_ERRORS",
    "Decision",
    "Evaluation",
    "Request",
    "RoleGuard",
    "RolePolicies",
    "Statement",
    "active_guard",
    "bind_process",
    "enforce",
    "environment_resolver",
    "evaluate",
    "function_for_code",
    "function_name",
    "guard_for",
    "install",
    "loggable_resource",
    "recording",
    "role_policies",
    "runtime_requests",
    "unchecked",
]
