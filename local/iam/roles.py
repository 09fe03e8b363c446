"""A function's role, read from the template: its resolved policies, and the calls the Lambda
service itself makes with it. Plus, for tests without a provisioned stack, a resolver that
learns physical names from the function's environment."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from urllib.parse import urlsplit

from local.cfn_template import Template, TemplateNode
from local.iam.policy import Request, RolePolicies, Statement, parse_document
from local.intrinsics import ACCOUNT_ID, NO_VALUE, Resolver
from receipt_vault.shapes import JsonObject, JsonValue

Resolve = Callable[[TemplateNode], TemplateNode]

# AWS managed policies a Lambda role commonly attaches, as AWS publishes them. Any other AWS
# managed ARN is refused: its document is not known here, and guessing would be wrong.
AWS_MANAGED_POLICIES: dict[str, JsonObject] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ]
    },
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": "*",
            }
        ]
    },
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            }
        ]
    },
}


def _resources(template: Mapping[str, TemplateNode]) -> Mapping[str, TemplateNode]:
    resources: Mapping[str, TemplateNode] = template.get("Resources", {})
    return resources


def _function_properties(template: Mapping[str, TemplateNode], function_logical_id: str) -> Template:
    function = _resources(template)[function_logical_id]
    if function.get("Type") not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
        raise ValueError(f"{function_logical_id} is not a function")
    return dict(function.get("Properties", {}))


def role_logical_id(template: Mapping[str, TemplateNode], function_logical_id: str) -> str:
    """The function's role, which must be declared in the template (`Role: !GetAtt X.Arn`):
    SAM's generated roles (`Policies:`) and roles from outside the template are not modelled."""
    role = _function_properties(template, function_logical_id).get("Role")
    logical = None
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        logical = (target if isinstance(target, list) else target.split("."))[0]
    elif isinstance(role, dict) and isinstance(role.get("Fn::Sub"), str):
        found = re.fullmatch(r"\$\{(\w+)\.Arn\}", role["Fn::Sub"])
        logical = found.group(1) if found else None
    if logical is None or _resources(template).get(logical, {}).get("Type") != "AWS::IAM::Role":
        raise ValueError(
            f"{function_logical_id}: only a role declared in the template (Role: !GetAtt X.Arn) is modelled"
        )
    return str(logical)


def _ref(value: TemplateNode) -> str | None:
    return value["Ref"] if isinstance(value, dict) and set(value) == {"Ref"} else None


def _enabled(resource: Mapping[str, TemplateNode], resolve: Resolve) -> bool:
    condition = resource.get("Condition")
    return condition is None or bool(resolve({"Condition": condition}))


def _document(resolve: Resolve, document: TemplateNode, name: str) -> list[Statement]:
    resolved = resolve(document)
    return [] if resolved is NO_VALUE else parse_document(resolved, name)


def role_policies(template: Mapping[str, TemplateNode], function_logical_id: str, resolve: Resolve) -> RolePolicies:
    """Every identity-policy statement of the function's role, with intrinsics resolved:
    the role's inline Policies, the in-template AWS::IAM::ManagedPolicy it lists in
    ManagedPolicyArns or that name it in Roles, in-template AWS::IAM::Policy / RolePolicy
    attached to it, and the AWS managed policies of AWS_MANAGED_POLICIES (any other AWS
    managed ARN raises ValueError)."""
    resources = _resources(template)
    role_id = role_logical_id(template, function_logical_id)
    properties = resources[role_id].get("Properties", {})
    statements: list[Statement] = []
    for policy in properties.get("Policies", []):
        statements += _document(resolve, policy["PolicyDocument"], str(resolve(policy["PolicyName"])))
    attached: set[str] = set()
    for spec in properties.get("ManagedPolicyArns", []):
        logical = _ref(spec)
        if logical and resources.get(logical, {}).get("Type") == "AWS::IAM::ManagedPolicy":
            attached.add(logical)
            continue
        arn = re.sub(r"^arn:aws[\w-]*:", "arn:aws:", str(resolve(spec)))
        if arn not in AWS_MANAGED_POLICIES:
            raise ValueError(
                f"{role_id}: managed policy {arn} is not modelled (not in local.iam's AWS_MANAGED_POLICIES)"
            )
        statements += parse_document(AWS_MANAGED_POLICIES[arn], arn.rsplit("/", 1)[-1])
    for logical, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::IAM::ManagedPolicy" and any(_ref(r) == role_id for r in props.get("Roles", [])):
            attached.add(logical)
        elif kind == "AWS::IAM::Policy" and any(_ref(r) == role_id for r in props.get("Roles", [])):
            if _enabled(resource, resolve):
                statements += _document(
                    resolve, props["PolicyDocument"], str(resolve(props.get("PolicyName", logical)))
                )
        elif kind == "AWS::IAM::RolePolicy" and _ref(props.get("RoleName")) == role_id and _enabled(resource, resolve):
            statements += _document(resolve, props["PolicyDocument"], str(resolve(props.get("PolicyName", logical))))
    for logical in sorted(attached):
        resource = resources[logical]
        if _enabled(resource, resolve):
            name = resource["Properties"].get("ManagedPolicyName", logical)
            statements += _document(resolve, resource["Properties"]["PolicyDocument"], str(resolve(name)))
    seen: dict[str, int] = {}
    unique = []
    for statement in statements:  # two statements of one policy may share a Sid in a template
        count = seen.get(statement.sid, 0)
        seen[statement.sid] = count + 1
        unique.append(statement if count == 0 else replace(statement, sid=f"{statement.sid}#{count}"))
    name, arn = role_name_and_arn(template, role_id, resolve)
    return RolePolicies(role_logical_id=role_id, role_name=name, role_arn=arn, statements=tuple(unique))


def role_name_and_arn(template: Mapping[str, TemplateNode], role_id: str, resolve: Resolve) -> tuple[str, str]:
    """RoleName, or the stack-and-logical-id name CloudFormation generates (without the random
    suffix it adds), under the role's Path."""
    properties = _resources(template)[role_id].get("Properties", {})
    stack = resolve({"Ref": "AWS::StackName"})
    account = resolve({"Ref": "AWS::AccountId"})
    name = str(resolve(properties["RoleName"])) if "RoleName" in properties else f"{stack}-{role_id}"[:64]
    path = str(resolve(properties.get("Path", "/")))
    return name, f"arn:aws:iam::{account}:role{path}{name}"


def function_name(template: Mapping[str, TemplateNode], function_logical_id: str, resolve: Resolve) -> str:
    properties = _function_properties(template, function_logical_id)
    if "FunctionName" in properties:
        return str(resolve(properties["FunctionName"]))
    return f"{resolve({'Ref': 'AWS::StackName'})}-{function_logical_id}"[:64]


def function_for_code(template: Mapping[str, TemplateNode], code_dir: str) -> str:
    """The function whose CodeUri is src/<code_dir>/."""
    for logical, resource in _resources(template).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            uri = str(resource.get("Properties", {}).get("CodeUri", "")).rstrip("/")
            if uri == f"src/{code_dir}":
                return str(logical)
    raise KeyError(f"no function has CodeUri src/{code_dir}/")


# -- the Lambda service's own calls with the role -----------------------------------------------------

SAMPLE_STREAM_LABEL = "2026-01-01T00:00:00.000"
SAMPLE_LOG_STREAM = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef"


def runtime_requests(template: Mapping[str, TemplateNode], function_logical_id: str, resolve: Resolve) -> list[Request]:
    """What the Lambda service does with the function's role, not its code: write the logs
    (CreateLogStream, PutLogEvents on its log group), send traces when Tracing is Active, poll
    an SQS event source (ReceiveMessage, DeleteMessage, GetQueueAttributes, as
    AWSLambdaSQSQueueExecutionRole grants) or a DynamoDB stream (DescribeStream, GetRecords,
    GetShardIterator, ListStreams, as AWSLambdaDynamoDBExecutionRole grants) and deliver to its
    on-failure destination, and deliver to an asynchronous invocation's destinations and
    dead-letter queue. A role without these fails silently in AWS (logs and traces are lost,
    events dropped), so they are checked by tests rather than at invocation."""
    properties = _function_properties(template, function_logical_id)
    globals_ = template.get("Globals", {}).get("Function", {})
    region, account = resolve({"Ref": "AWS::Region"}), resolve({"Ref": "AWS::AccountId"})
    requests = []
    log_group = (properties.get("LoggingConfig") or {}).get("LogGroup")
    group = resolve(log_group) if log_group else f"/aws/lambda/{function_name(template, function_logical_id, resolve)}"
    stream = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{SAMPLE_LOG_STREAM}"
    requests += [Request("logs:CreateLogStream", stream), Request("logs:PutLogEvents", stream)]
    if properties.get("Tracing", globals_.get("Tracing")) == "Active":
        requests += [Request("xray:PutTraceSegments", "*"), Request("xray:PutTelemetryRecords", "*")]
    for event in (properties.get("Events") or {}).values():
        if event.get("Type") == "SQS":
            queue = str(resolve(event["Properties"]["Queue"]))
            requests += [Request(f"sqs:{a}", queue) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
        if event.get("Type") == "DynamoDB":
            stream_arn = str(resolve(event["Properties"]["Stream"]))
            reads = ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams")
            requests += [Request(f"dynamodb:{a}", stream_arn) for a in reads]
            on_failure = ((event["Properties"].get("DestinationConfig") or {}).get("OnFailure")) or {}
            if on_failure:
                requests += _delivery(on_failure.get("Type"), str(resolve(on_failure["Destination"])))
    destinations = ((properties.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).values()
    for destination in destinations:
        requests += _delivery(destination.get("Type"), str(resolve(destination["Destination"])))
    dead_letter = properties.get("DeadLetterQueue", globals_.get("DeadLetterQueue"))
    if dead_letter:
        requests += _delivery(dead_letter.get("Type"), str(resolve(dead_letter["TargetArn"])))
    return requests


def _delivery(kind: str | None, target: str) -> list[Request]:
    action = {
        "SQS": "sqs:SendMessage",
        "SNS": "sns:Publish",
        "Lambda": "lambda:InvokeFunction",
        "EventBridge": "events:PutEvents",
    }
    if kind not in action:
        raise ValueError(f"destination type {kind} is not modelled")
    return [Request(action[kind], target)]


# -- a resolver for tests without a provisioned stack -------------------------------------------------


def _arn_of_queue(url: str, region: str) -> str:
    parts = [part for part in urlsplit(url).path.split("/") if part]
    return f"arn:aws:sqs:{region}:{parts[-2]}:{parts[-1]}"


class _Physical:
    """Physical ids and attributes of resources, derived from what is known of each."""

    def __init__(self, template: Mapping[str, TemplateNode], region: str, account: str) -> None:
        self.template = template
        self.region = region
        self.account = account
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        self.resolver: Resolver | None = None

    def _name(self, logical: str, prop: str) -> str:
        properties = _resources(self.template)[logical].get("Properties", {})
        if prop in properties and self.resolver is not None:
            return str(self.resolver.resolve(properties[prop]))
        return logical

    def reference(self, logical: str) -> str:
        if logical in self.refs:
            return self.refs[logical]
        kind = _resources(self.template)[logical]["Type"]
        r, a = self.region, self.account
        known = {attr: value for (lid, attr), value in self.attributes.items() if lid == logical}
        if kind == "AWS::KMS::Key" and "Arn" in known:
            return known["Arn"].rsplit("/", 1)[-1]
        if kind == "AWS::SQS::Queue" and "Arn" in known:
            _, _, _, region, account, name = known["Arn"].split(":", 5)
            return f"https://sqs.{region}.amazonaws.com/{account}/{name}"
        if kind in ("AWS::SNS::Topic", "AWS::SecretsManager::Secret", "Custom::SnsPlatformApplication") and known:
            return next(iter(known.values()))
        fallback: dict[str, Callable[[], str]] = {
            "AWS::DynamoDB::Table": lambda: self._name(logical, "TableName"),
            "AWS::S3::Bucket": lambda: self._name(logical, "BucketName"),
            "AWS::SQS::Queue": lambda: f"https://sqs.{r}.amazonaws.com/{a}/{self._name(logical, 'QueueName')}",
            "AWS::SNS::Topic": lambda: f"arn:aws:sns:{r}:{a}:{self._name(logical, 'TopicName')}",
            # Any suffix: the secret of that name, whatever the 6 characters Secrets Manager adds.
            "AWS::SecretsManager::Secret": lambda: (
                f"arn:aws:secretsmanager:{r}:{a}:secret:{self._name(logical, 'Name')}-??????"
            ),
            "AWS::KMS::Key": lambda: f"unresolved-{logical}",
            "AWS::KMS::Alias": lambda: self._name(logical, "AliasName"),
            "AWS::Cognito::UserPool": lambda: f"{r}_unresolved{logical}",
            "AWS::CloudFront::Distribution": lambda: f"UNRESOLVED{logical.upper()}",
            "AWS::Logs::LogGroup": lambda: self._name(logical, "LogGroupName"),
            "AWS::Serverless::Function": lambda: self._name(logical, "FunctionName"),
            "Custom::SnsPlatformApplication": lambda: f"arn:aws:sns:{r}:{a}:app/unresolved/{logical}",
        }
        return fallback.get(kind, lambda: logical)()

    def attribute(self, logical: str, attribute: str) -> str:
        if (logical, attribute) in self.attributes:
            return self.attributes[(logical, attribute)]
        kind = _resources(self.template)[logical]["Type"]
        physical = self.reference(logical)
        r, a = self.region, self.account
        derived: dict[str, dict[str, Callable[[], str]]] = {
            "AWS::DynamoDB::Table": {
                "Arn": lambda: f"arn:aws:dynamodb:{r}:{a}:table/{physical}",
                # DynamoDB labels a stream with its creation time: any one stands for the real one.
                "StreamArn": lambda: f"arn:aws:dynamodb:{r}:{a}:table/{physical}/stream/{SAMPLE_STREAM_LABEL}",
            },
            "AWS::S3::Bucket": {
                "Arn": lambda: f"arn:aws:s3:::{physical}",
                "DomainName": lambda: f"{physical}.s3.amazonaws.com",
                "RegionalDomainName": lambda: f"{physical}.s3.{r}.amazonaws.com",
            },
            "AWS::SQS::Queue": {
                "Arn": lambda: _arn_of_queue(physical, r),
                "QueueName": lambda: physical.rstrip("/").rsplit("/", 1)[-1],
                "QueueUrl": lambda: physical,
            },
            "AWS::SNS::Topic": {"TopicArn": lambda: physical, "TopicName": lambda: physical.rsplit(":", 1)[-1]},
            "AWS::SecretsManager::Secret": {"Id": lambda: physical},
            "AWS::KMS::Key": {"Arn": lambda: f"arn:aws:kms:{r}:{a}:key/{physical}", "KeyId": lambda: physical},
            "AWS::Cognito::UserPool": {"Arn": lambda: f"arn:aws:cognito-idp:{r}:{a}:userpool/{physical}"},
            "AWS::CloudFront::Distribution": {
                "Id": lambda: physical,
                "DomainName": lambda: f"{physical.lower()}.cloudfront.net",
            },
            "AWS::Logs::LogGroup": {"Arn": lambda: f"arn:aws:logs:{r}:{a}:log-group:{physical}:*"},
            "AWS::Serverless::Function": {"Arn": lambda: f"arn:aws:lambda:{r}:{a}:function:{physical}"},
            "AWS::IAM::Role": {"Arn": lambda: f"arn:aws:iam::{a}:role/{physical}"},
            "Custom::SnsPlatformApplication": {"Arn": lambda: physical},
        }
        compute = derived.get(kind, {}).get(attribute)
        return compute() if compute else f"{logical}.{attribute}"


def _sub_references(text: str, resources: Mapping[str, TemplateNode]) -> bool:
    names = re.findall(r"\$\{([^}!][^}]*)\}", text)
    return any(name.split(".", 1)[0] in resources for name in names)


def _rewrite(value: TemplateNode, rewrites: list[tuple[str, str]]) -> TemplateNode:
    if isinstance(value, str):
        for old, new in rewrites:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_rewrite(v, rewrites) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, rewrites) for k, v in value.items()}
    return value


NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
}


def _learn_from_event(
    template: Mapping[str, TemplateNode],
    function_logical_id: str,
    event: Mapping[str, JsonValue] | None,
    physical: _Physical,
) -> None:
    """An S3 notification or SQS message names the bucket or queue the template wires to this
    function (its Events): that is the resource's physical name for this invocation."""
    if not event or not isinstance(event.get("Records"), list):
        return
    sources = (_function_properties(template, function_logical_id).get("Events") or {}).values()
    for record in event["Records"]:
        if not isinstance(record, Mapping):
            continue
        for source in sources:
            properties = source.get("Properties", {})
            if source.get("Type") == "S3" and "s3" in record and _ref(properties.get("Bucket")):
                physical.refs.setdefault(str(_ref(properties["Bucket"])), record["s3"]["bucket"]["name"])
            queue = properties.get("Queue")
            if (
                source.get("Type") == "SQS"
                and record.get("eventSourceARN")
                and isinstance(queue, dict)
                and "Fn::GetAtt" in queue
            ):
                target = queue["Fn::GetAtt"]
                logical = (target if isinstance(target, list) else target.split("."))[0]
                physical.attributes.setdefault((logical, "Arn"), record["eventSourceARN"])


def environment_resolver(
    template: Mapping[str, TemplateNode],
    function_logical_id: str,
    environ: Mapping[str, str],
    event: Mapping[str, JsonValue] | None = None,
    region: str = "eu-west-1",
    account_id: str = ACCOUNT_ID,
    parameters: Mapping[str, TemplateNode] | None = None,
) -> Resolve:
    """Resolve the template as a test sees it: with the names the test created, not a stack's.

    What the invocation reveals, first from the function's own Environment.Variables, then
    from the other functions' (one variable name means one resource throughout the template):
      - a variable `!Ref X` gives X's physical id (a parameter X: its value), `!GetAtt X.A` the
        attribute, `!If [c, !GetAtt X.A, ""]` the same when set; other attributes are derived
        from those (a table's ARN from its name, a queue's ARN from its URL, a key id from its
        ARN);
      - a variable that is a `!Sub` of parameters only (ThumbnailGenerator's S3_BUCKET names
        the images bucket by text) rewrites that text, wherever a policy has it, to the value;
      - the event, first of all: an S3 notification or SQS message names the bucket or queue
        the function's Events wire to it; a CloudFormation custom resource request (naming its
        LogicalResourceId) gives the parameters its properties are `!Ref`s of;
      - a resource whose name property (BucketName, TableName, ...) is a `!Sub` of parameters
        only is named by that text wherever a policy has it: the text is rewritten to the
        physical name learned.
    Fallbacks: Stage is `test` (the suite's names carry it where the template puts the stage);
    other parameters take their defaults; a resource nothing reveals gets the name its own
    properties give it (TableName, BucketName, QueueName, ...), a secret any 6-character
    suffix (`-??????`), and a key, user pool or distribution a placeholder no real one has.
    Region and account are moto's defaults."""
    resources = _resources(template)
    learned: Template = {"Stage": "test"} if "Stage" in template.get("Parameters", {}) else {}
    learned.update(parameters or {})
    physical = _Physical(template, region, account_id)
    subs: list[tuple[str, str]] = []
    _learn_from_event(template, function_logical_id, event, physical)
    if event and isinstance(event.get("ResourceProperties"), dict):
        declared = resources.get(str(event.get("LogicalResourceId")), {}).get("Properties", {})
        for name, spec in declared.items():
            target = _ref(spec)
            if target is not None and target in template.get("Parameters", {}) and name in event["ResourceProperties"]:
                learned.setdefault(target, event["ResourceProperties"][name])
    functions = [function_logical_id] + [
        logical
        for logical, r in resources.items()
        if r.get("Type") == "AWS::Serverless::Function" and logical != function_logical_id
    ]
    global_variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    for logical in functions:
        variables = {
            **global_variables,
            **(resources[logical].get("Properties", {}).get("Environment", {}).get("Variables", {})),
        }
        for variable, spec in variables.items():
            if variable not in environ:
                continue
            value = environ[variable]
            if isinstance(spec, dict) and "Fn::If" in spec:
                if value == "":
                    continue
                spec = spec["Fn::If"][1]
            target = _ref(spec)
            if target is not None and target in template.get("Parameters", {}):
                learned.setdefault(target, value)
            elif target is not None and target in resources:
                physical.refs.setdefault(target, value)
            elif isinstance(spec, dict) and "Fn::GetAtt" in spec:
                found = spec["Fn::GetAtt"]
                lid, attribute = found if isinstance(found, list) else found.split(".", 1)
                physical.attributes.setdefault((lid, attribute), value)
            elif (
                isinstance(spec, dict)
                and isinstance(spec.get("Fn::Sub"), str)
                and not _sub_references(spec["Fn::Sub"], resources)
            ):
                subs.append((spec["Fn::Sub"], value))
    resolver = Resolver(dict(template), learned, region, physical.reference, physical.attribute)
    physical.resolver = resolver
    rewrites: dict[str, str] = {}
    named: list[tuple[str, str]] = []
    for logical, value in physical.refs.items():
        # A resource named by a Sub of parameters only is named by that text elsewhere too
        # (ThumbnailGeneratorRole names the images bucket so, to avoid a circular reference).
        name_property = NAME_PROPERTIES.get(resources[logical].get("Type", ""))
        spec = resources[logical].get("Properties", {}).get(name_property or "")
        if (
            isinstance(spec, dict)
            and isinstance(spec.get("Fn::Sub"), str)
            and not _sub_references(spec["Fn::Sub"], resources)
        ):
            name = value.rstrip("/").rsplit("/", 1)[-1] if name_property == "QueueName" else value
            named.append((spec["Fn::Sub"], name))
    for text, value in named + subs:
        resolved = str(resolver.resolve({"Fn::Sub": text}))
        if resolved != value:
            rewrites.setdefault(resolved, value)
    ordered = sorted(rewrites.items(), key=lambda item: -len(item[0]))

    def resolve(value: TemplateNode) -> TemplateNode:
        return _rewrite(resolver.resolve(value), ordered)

    return resolve
