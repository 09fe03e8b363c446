"""Properties of template.yaml and api/openapi.yaml that must hold for every function and route."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local.cfn_template import (
    OPENAPI_PATH,
    PROJECT_ROOT,
    integrated_function,
    load_template,
    load_yaml,
    resources_of_type,
)
from local.runtime import EnvironmentSpec
from receipt_vault import settings as settings_module

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
OPENAPI = load_yaml(OPENAPI_PATH)
LAYER_PACKAGE = PROJECT_ROOT / "src" / "layers" / "common" / "receipt_vault"

# Actions that support no resource-level permissions, so "*" is the only possible resource.
STAR_RESOURCE_EXCEPTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sns:CreatePlatformApplication",
    "textract:AnalyzeExpense",
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_statements(role_name: str) -> list[dict[str, Any]]:
    role = RESOURCES[role_name]
    assert role["Type"] == "AWS::IAM::Role"
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _function_role(properties: dict[str, Any]) -> str:
    return properties["Role"]["Fn::GetAtt"][0]


def test_the_template_declares_functions():
    assert {"ReceiptCrudFunction", "CategoryHandlerFunction", "HealthFunction"} <= set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_its_own_log_group_with_30_day_retention(name):
    properties = FUNCTIONS[name]["Properties"]
    log_group = RESOURCES[properties["LoggingConfig"]["LogGroup"]["Ref"]]

    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 30
    function_name = properties["FunctionName"]["Fn::Sub"]
    assert log_group["Properties"]["LogGroupName"]["Fn::Sub"] == f"/aws/lambda/{function_name}"
    assert log_group.get("Condition") == FUNCTIONS[name].get("Condition")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_has_its_own_role_that_logs_only_to_its_log_group(name):
    properties = FUNCTIONS[name]["Properties"]
    role = _function_role(properties)
    others = [_function_role(f["Properties"]) for n, f in FUNCTIONS.items() if n != name]

    assert role not in others
    log_statements = [s for s in _role_statements(role) if any(a.startswith("logs:") for a in _as_list(s["Action"]))]
    assert log_statements == [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": {"Fn::GetAtt": [properties["LoggingConfig"]["LogGroup"]["Ref"], "Arn"]},
        }
    ]
    assert "Policies" not in properties  # no SAM policy templates: they are broader than needed


def test_no_iam_statement_grants_wildcard_actions_or_undocumented_wildcard_resources():
    for name, _role in resources_of_type(TEMPLATE, "AWS::IAM::Role").items():
        for statement in _role_statements(name):
            actions = _as_list(statement["Action"])
            assert statement["Effect"] == "Allow", name
            assert not any(action == "*" or action.endswith(":*") for action in actions), (name, actions)
            if "*" in _as_list(statement["Resource"]):
                assert set(actions) <= STAR_RESOURCE_EXCEPTIONS, (name, actions)


def test_function_roles_sit_on_the_path_the_key_policy_trusts():
    key_statements = RESOURCES["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    [usage] = [s for s in key_statements if s["Sid"] == "StackFunctionsUseTheKeyThroughS3"]
    trusted = usage["Condition"]["ArnLike"]["aws:PrincipalArn"]["Fn::Sub"]

    for properties in (f["Properties"] for f in FUNCTIONS.values()):
        path = RESOURCES[_function_role(properties)]["Properties"]["Path"]["Fn::Sub"]
        assert trusted.endswith(f"role{path}*")


def _declared_environment(name: str) -> set[str]:
    global_variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    own = FUNCTIONS[name]["Properties"].get("Environment", {}).get("Variables", {})
    return set(global_variables) | set(own)


def _runtime_environment() -> set[str]:
    """What Lambda's runtime sets itself (a template may not declare these reserved names), as the
    local stack's execution environments set them."""
    placeholder = SimpleNamespace(function_name="f", memory_mb=128, code_dir=Path("/var/task"), handler="f.app.h")
    return set(EnvironmentSpec.runtime_variables(placeholder))  # type: ignore[arg-type]


def _environment_reads(source_files: list[Path]) -> set[str]:
    """Literal names read through os.environ / os.getenv, plus the settings models loaded."""
    names: set[str] = set()
    for path in source_files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                if func in ("os.getenv", "os.environ.get") and isinstance(node.args[0], ast.Constant):
                    names.add(node.args[0].value)
                if func == "load_settings" and isinstance(node.args[0], ast.Name):
                    names.update(getattr(settings_module, node.args[0].id).env_names())
            is_environ_lookup = isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ"
            if is_environ_lookup and isinstance(node.slice, ast.Constant):
                names.add(node.slice.value)
    return names


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_environment_variable_a_handler_reads_is_declared(name):
    code_dir = PROJECT_ROOT / FUNCTIONS[name]["Properties"]["CodeUri"]
    reads = _environment_reads(sorted(code_dir.rglob("*.py")) + sorted(LAYER_PACKAGE.rglob("*.py")))

    assert reads, "the settings model of the function was not found"
    available = _declared_environment(name) | _runtime_environment()
    assert reads <= available, reads - available
    assert "POWERTOOLS_SERVICE_NAME" in _declared_environment(name)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_points_at_code_that_exists(name):
    properties = FUNCTIONS[name]["Properties"]
    module, handler = properties["Handler"].rsplit(".", 1)
    code_dir = PROJECT_ROOT / properties["CodeUri"]
    source = code_dir / f"{module.replace('.', '/')}.py"

    # One package named for the function, so its modules import plainly everywhere.
    assert module == f"{code_dir.name}.app"
    assert source.is_file() and (code_dir / code_dir.name / "__init__.py").is_file()
    assert not list(code_dir.glob("*.py")), "modules outside the function's package"
    assert re.search(rf"^{handler} = |^def {handler}\(", source.read_text(encoding="utf-8"), re.MULTILINE)


def test_globals_pin_runtime_architecture_tracing_and_the_common_layer():
    function_globals = TEMPLATE["Globals"]["Function"]

    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    assert function_globals["Layers"] == [{"Ref": "CommonLayer"}]


def test_the_table_has_the_specs_indexes_ttl_pitr_and_deletion_protection():
    properties = RESOURCES["ReceiptVaultTable"]["Properties"]
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}

    assert set(indexes) == {
        "ByUserDate",
        "ByUserCategory",
        "ByUserStore",
        "ByWarrantyExpiry",
        "ByUserStatus",
        "ByUpdatedAt",
        "ByScheduledJob",  # sparse: what the scheduled jobs read instead of scanning
    }
    assert indexes["ByUpdatedAt"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert indexes["ByScheduledJob"]["Projection"]["ProjectionType"] == "INCLUDE"
    spec_indexes = set(indexes) - {"ByUpdatedAt", "ByScheduledJob"}
    assert all(indexes[name]["Projection"] == {"ProjectionType": "ALL"} for name in spec_indexes)
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.parametrize("bucket", ["ImagesBucket", "ExportsBucket", "AccessLogsBucket"])
def test_every_bucket_blocks_public_access_and_denies_plain_http(bucket):
    properties = RESOURCES[bucket]["Properties"]
    [policy] = [
        r
        for r in resources_of_type(TEMPLATE, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]

    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_images_are_versioned_and_encrypted_with_the_customer_managed_key():
    properties = RESOURCES["ImagesBucket"]["Properties"]
    [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]

    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["DataKey", "Arn"]},
    }
    assert rule["BucketKeyEnabled"] is True
    assert RESOURCES["DataKey"]["Properties"]["EnableKeyRotation"] is True


# -- the API: OpenAPI routes and the functions' Api events must agree ---------------------------


def _openapi_routes() -> dict[tuple[str, str], str]:
    routes = {}
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            integration = operation["x-amazon-apigateway-integration"]
            if integration["type"] == "aws_proxy":
                # Its function's alias, never $LATEST: only a published version has a snapshot.
                routes[(path, method)] = integrated_function(operation)
    return routes


def _template_routes() -> dict[tuple[str, str], str]:
    return {
        (event["Properties"]["Path"], event["Properties"]["Method"]): name
        for name, function in FUNCTIONS.items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    }


def test_every_openapi_route_is_an_api_event_of_the_same_function_and_back():
    assert _openapi_routes() == _template_routes()


# The routes open without a Cognito token: liveness, and the calendar feed, whose secret token in
# the URL is its credential (calendar apps send nothing else).
OPEN_ROUTES = {"/health", "/calendar/{feedFile}"}


def test_every_route_but_health_and_the_calendar_feed_requires_a_cognito_access_token():
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            if path in OPEN_ROUTES:
                assert operation["security"] == []
            else:
                assert operation["security"] == [{"receiptvault-cognito-authorizer": ["aws.cognito.signin.user.admin"]}]


def test_every_path_answers_a_cors_preflight():
    assert all("options" in operations for operations in OPENAPI["paths"].values())


@pytest.mark.parametrize("response_type", ["DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY", "UNAUTHORIZED"])
def test_gateway_responses_carry_cors_and_the_standard_error_shape(response_type):
    response = OPENAPI["x-amazon-apigateway-gateway-responses"][response_type]
    template = response["responseTemplates"]["application/json"]

    assert "gatewayresponse.header.Access-Control-Allow-Origin" in response["responseParameters"]
    for field in ('"error":', '"message":', '"requestId":"$context.requestId"', '"details":[]'):
        assert field in template


def sam_local_environments(env_vars: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each function's environment exactly as `sam local invoke --env-vars env.json --region
    eu-west-1` resolves it, through SAM CLI's own template provider and environment classes."""
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
    from samcli.local.lambdafn.env_vars import EnvironmentVariables

    stacks, _ = SamLocalStackProvider.get_stacks(
        str(PROJECT_ROOT / "template.yaml"), global_parameter_overrides={"AWS::Region": "eu-west-1"}
    )
    environments = {}
    for function in SamFunctionProvider(stacks, ignore_code_extraction_warnings=True).get_all():
        overrides = {**env_vars.get("Parameters", {}), **env_vars.get(function.name, {})}
        environment = EnvironmentVariables(
            function.name,
            function.memory,
            function.timeout,
            function.handler,
            variables=(function.environment or {}).get("Variables"),
            shell_env_values={},
            override_values=overrides,
            aws_creds={},
        ).resolve()
        environments[function.name] = {
            name: value for name, value in environment.items() if name in _declared_environment(function.name)
        }
    return environments


def unresolved_references(environment: dict[str, str]) -> dict[str, str]:
    """Variables SAM CLI left naming a logical id: the id itself, or its placeholder ARN for a
    `Fn::GetAtt` (`arn:aws:lambda:...:function:DataKey`), or an empty value."""
    return {
        name: value
        for name, value in environment.items()
        if value in RESOURCES
        or re.fullmatch(r"arn:aws:lambda:[\w-]+:\d+:function:(\w+)", value) is not None
        or (value == "" and name in sam_resource_variables())
    }


def sam_resource_variables() -> set[str]:
    from local.sam_local_env import resource_variables

    return {name for function in FUNCTIONS for name in resource_variables(TEMPLATE, function)}


def test_sam_local_with_env_json_hands_no_function_a_logical_id_for_a_resource_name():
    environments = sam_local_environments(json.loads((PROJECT_ROOT / "env.json").read_text()))

    assert set(environments) == set(FUNCTIONS)
    assert {name: unresolved_references(env) for name, env in environments.items() if unresolved_references(env)} == {}


@pytest.mark.parametrize("section", ["SyncHandlerFunction", "OcrRefineFunction", "UserDeletionFunction"])
def test_without_its_env_json_section_a_function_would_get_logical_ids(section):
    env_vars = json.loads((PROJECT_ROOT / "env.json").read_text())
    del env_vars[section]

    assert unresolved_references(sam_local_environments(env_vars)[section])


def test_env_json_overrides_only_declared_variables_of_real_functions():
    overrides = json.loads((PROJECT_ROOT / "env.json").read_text())
    global_names = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])

    assert set(overrides.pop("Parameters", {})) <= global_names
    for name, variables in overrides.items():
        assert name in FUNCTIONS, name
        assert set(variables) <= _declared_environment(name), (
            name,
            set(variables) - _declared_environment(name),
        )


def test_ocr_refine_may_invoke_exactly_the_configured_models_through_their_eu_profiles():
    statements = _role_statements("OcrRefineRole")
    bedrock = [s for s in statements if "bedrock:InvokeModel" in _as_list(s["Action"])]
    profiles, foundation = bedrock

    assert [r["Fn::Sub"] for r in profiles["Resource"]] == [
        "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/${BedrockModelId}",
        "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/${BedrockFallbackModelId}",
    ]
    assert foundation["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"] == profiles["Resource"]
    parameters = TEMPLATE["Parameters"]
    assert parameters["BedrockModelId"]["Default"].startswith("eu.anthropic.claude-haiku-4-5")
    assert parameters["BedrockFallbackModelId"]["Default"].startswith("eu.anthropic.claude-sonnet-4-5")
    assert all(
        not action.startswith("bedrock:") or action == "bedrock:InvokeModel"
        for s in statements
        for action in _as_list(s["Action"])
    )


SCHEDULED_JOBS = {
    "WarrantyCheckerFunction": ("cron(0 8 * * ? *)", "receiptvault-daily-warranty-check-${Stage}"),
    "WeeklySummaryFunction": ("cron(0 9 ? * MON *)", "receiptvault-weekly-summary-${Stage}"),
}


@pytest.mark.parametrize("name", sorted(SCHEDULED_JOBS))
def test_scheduled_jobs_run_alone_on_the_specs_schedule_with_two_retries_and_a_dead_letter_queue(name):
    properties = FUNCTIONS[name]["Properties"]
    [event] = properties["Events"].values()
    expression, rule_name = SCHEDULED_JOBS[name]
    dead_letters = {"Fn::GetAtt": ["ScheduledJobsDeadLetterQueue", "Arn"]}

    assert properties["ReservedConcurrentExecutions"] == 1
    assert properties["Timeout"] == 60 and properties.get("MemorySize", 256) == 256
    assert event["Type"] == "Schedule"
    assert event["Properties"]["Schedule"] == expression
    assert event["Properties"]["Name"] == {"Fn::Sub": rule_name}
    assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert event["Properties"]["DeadLetterConfig"] == {"Arn": dead_letters}
    # A run that fails (or is left incomplete) is retried twice by Lambda, then dead-lettered.
    invoke_config = properties["EventInvokeConfig"]
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == dead_letters
    # EventBridge may deliver to the queue only for these rules.
    [statement] = RESOURCES["ScheduledJobsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    rule_arn = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/" + rule_name
    assert {"Fn::Sub": rule_arn} in statement["Condition"]["ArnEquals"]["aws:SourceArn"]


def test_no_function_may_scan_the_table():
    for name, properties in FUNCTIONS.items():
        actions = {
            action
            for statement in _role_statements(_function_role(properties["Properties"]))
            for action in _as_list(statement["Action"])
        }
        assert "dynamodb:Scan" not in actions, name


def test_scheduled_job_failures_and_dead_letters_alarm_the_operators():
    for alarm in ("ScheduledJobFailuresAlarm", "ScheduledJobsDeadLetterAlarm", "PushFailuresAlarm"):
        properties = RESOURCES[alarm]["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "OperationsAlertsTopic"}], alarm
        assert properties["Threshold"] == 0 and properties["ComparisonOperator"] == "GreaterThanThreshold"
    watched = {
        query["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for query in RESOURCES["ScheduledJobFailuresAlarm"]["Properties"]["Metrics"]
        if "MetricStat" in query
    }
    assert watched == set(SCHEDULED_JOBS)


def test_device_registration_manages_only_the_stacks_own_platform_endpoints():
    statements = {s["Sid"]: s for s in _role_statements("UserSettingsRole")}

    assert statements["CreateDeviceEndpoints"]["Action"] == "sns:CreatePlatformEndpoint"
    assert statements["CreateDeviceEndpoints"]["Resource"]["Fn::Sub"].endswith(":app/*/receiptvault-${Stage}-*")
    assert statements["ManageDeviceEndpoints"]["Resource"]["Fn::Sub"].endswith(":endpoint/*/receiptvault-${Stage}-*/*")
    assert not any("sns:Publish" in _as_list(s["Action"]) for s in statements.values())


def test_exports_are_built_two_at_a_time_from_a_queue_whose_dlq_takes_a_message_after_three_tries():
    handler = FUNCTIONS["ExportHandlerFunction"]["Properties"]
    [event] = handler["Events"].values()
    queue = RESOURCES["ExportQueue"]["Properties"]

    assert handler["ReservedConcurrentExecutions"] == 2
    assert handler["MemorySize"] == 1024 and handler["Timeout"] == 300
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::GetAtt": ["ExportQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert queue["VisibilityTimeout"] >= 6 * handler["Timeout"]


def test_account_erasure_has_its_safety_net_queue_and_the_specs_failure_alarm():
    function = FUNCTIONS["UserDeletionFunction"]["Properties"]
    queue = RESOURCES["AccountDeletionQueue"]["Properties"]
    alarm = RESOURCES["UserDeletionFailureAlarm"]["Properties"]

    assert function["Timeout"] == 120
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert "RedrivePolicy" in queue
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Period"], alarm["Threshold"]) == (
        "AWS/Lambda",
        "Errors",
        60,
        0,
    )
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "UserDeletionFunction"}}]


def test_erasure_may_delete_only_under_the_users_prefixes_and_only_its_own_pools_users():
    statements = {s["Sid"]: s for s in _role_statements("UserDeletionRole")}

    assert statements["DeleteCognitoUser"]["Resource"] == {"Fn::GetAtt": ["UserPool", "Arn"]}
    assert statements["DeleteUserObjectVersions"]["Resource"] == {"Fn::Sub": "${ImagesBucket.Arn}/users/*"}
    assert statements["DeleteUserExports"]["Resource"] == {"Fn::Sub": "${ExportsBucket.Arn}/exports/*"}
    assert statements["ListUserObjectVersions"]["Condition"] == {"StringLike": {"s3:prefix": "users/*"}}


def test_the_export_handler_reads_originals_only_and_writes_exports_only():
    statements = {s["Sid"]: s for s in _role_statements("ExportHandlerRole")}

    assert statements["ReadOriginals"]["Resource"] == {"Fn::Sub": "${ImagesBucket.Arn}/users/*/receipts/*/original/*"}
    assert statements["WriteExports"]["Resource"] == {"Fn::Sub": "${ExportsBucket.Arn}/exports/*"}
    assert not any(
        "s3:PutObject" in _as_list(s["Action"]) and "ImagesBucket" in json.dumps(s["Resource"])
        for s in statements.values()
    )


def test_the_specs_alarms_and_the_operational_ones_all_notify_the_operations_topic():
    alarms = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
    for name in (
        "HighLambdaErrorRateAlarm",
        "SyncFailuresAlarm",
        "BedrockThrottlingAlarm",
        "HighLatencyOcrAlarm",
        "UserDeletionFailureAlarm",
        "Api5xxAlarm",
        "LambdaThrottlesAlarm",
    ):
        assert alarms[name]["Properties"]["AlarmActions"] == [{"Ref": "OperationsAlertsTopic"}], name
    rate = {query["Id"]: query for query in alarms["HighLambdaErrorRateAlarm"]["Properties"]["Metrics"]}
    assert "errors / invocations" in rate["errorRate"]["Expression"]
    assert alarms["HighLambdaErrorRateAlarm"]["Properties"]["Threshold"] == 5
    assert alarms["HighLatencyOcrAlarm"]["Properties"]["ExtendedStatistic"] == "p99"


def test_every_dead_letter_queue_has_a_depth_alarm():
    queues = resources_of_type(TEMPLATE, "AWS::SQS::Queue")
    dead_letter_queues = {
        properties["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for properties in (queue["Properties"] for queue in queues.values())
        if "RedrivePolicy" in properties
    } | {name for name in queues if name.endswith("DeadLetterQueue")}
    watched = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for alarm in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert dead_letter_queues and dead_letter_queues <= watched


def test_operators_may_subscribe_an_email_address():
    subscription = RESOURCES["OperationsAlertsEmailSubscription"]

    assert subscription["Condition"] == "HasOpsAlertEmail"
    assert subscription["Properties"]["Protocol"] == "email"
    assert TEMPLATE["Parameters"]["OpsAlertEmail"]["Default"] == ""


def test_the_dashboard_has_the_specs_five_rows():
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(_render(body))["widgets"]

    assert sorted({widget["y"] for widget in widgets}) == [0, 6, 12, 18, 24]
    titles = " | ".join(widget["properties"]["title"] for widget in widgets)
    for needed in (
        "API 5xx",
        "API latency",
        "Daily active users",
        "Refinement latency",
        "fallback",
        "Sync duration",
        "Bedrock",
        "DynamoDB",
        "Images stored",
    ):
        assert needed in titles, needed


def _render(body: str) -> str:
    """The dashboard JSON with every ${...} placeholder filled, as CloudFormation would."""
    import re

    return re.sub(r"\$\{[^}]+\}", "x", body)


def test_api_functions_may_write_daily_active_user_markers_and_nothing_else_through_that_grant():
    for name, function in FUNCTIONS.items():
        statements = {s["Sid"]: s for s in _role_statements(_function_role(function["Properties"]))}
        if "ActiveUserMarkers" not in statements:
            continue
        grant = statements["ActiveUserMarkers"]
        assert grant["Action"] == "dynamodb:PutItem", name
        assert grant["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ACTIVE#*"]}}, name


def test_the_optional_waf_rate_limits_per_ip_applies_the_common_rule_set_and_guards_the_stage():
    acl, association = RESOURCES["ApiWebAcl"], RESOURCES["ApiWebAclAssociation"]
    rules = {rule["Name"]: rule["Statement"] for rule in acl["Properties"]["Rules"]}

    assert acl["Condition"] == association["Condition"] == "HasWaf"
    assert TEMPLATE["Parameters"]["EnableWaf"]["Default"] == "false"
    assert rules["rate-limit-per-ip"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rules["aws-common-rule-set"]["ManagedRuleGroupStatement"]["Name"] == "AWSManagedRulesCommonRuleSet"
    assert "${ReceiptVaultApi.Stage}" in association["Properties"]["ResourceArn"]["Fn::Sub"]


def test_every_checkov_skip_says_why_where_it_is():
    skips = [
        (name, skip)
        for name, resource in RESOURCES.items()
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])
    ]

    assert skips
    for name, skip in skips:
        assert skip["id"].startswith("CKV_"), name
        assert len(skip.get("comment", "")) >= 40, (name, skip)


def test_the_table_is_encrypted_with_the_stacks_key_used_only_through_dynamodb():
    sse = RESOURCES["ReceiptVaultTable"]["Properties"]["SSESpecification"]
    statements = {s["Sid"]: s for s in RESOURCES["DataKey"]["Properties"]["KeyPolicy"]["Statement"]}

    assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}}
    via = statements["DynamoDbEncryptsTheTable"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert via == {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}


def test_the_final_sweep_of_an_erasure_comes_after_every_token_issued_before_it_expired():
    client = next(iter(resources_of_type(TEMPLATE, "AWS::Cognito::UserPoolClient").values()))["Properties"]
    seconds_per = {"minutes": 60, "hours": 3600, "days": 86400}
    units = client["TokenValidityUnits"]
    lifetimes = [
        client["AccessTokenValidity"] * seconds_per[units["AccessToken"]],
        client["IdTokenValidity"] * seconds_per[units["IdToken"]],
    ]
    sweep = FUNCTIONS["UserDeletionFunction"]["Properties"]["Environment"]["Variables"]["FINAL_SWEEP_AFTER_SECONDS"]

    assert int(sweep) > max(lifetimes)


API_FUNCTIONS_WITH_A_TABLE = sorted(
    name
    for name, function in FUNCTIONS.items()
    if "TABLE_NAME" in function["Properties"].get("Environment", {}).get("Variables", {})
    and any(event.get("Type") == "Api" for event in function["Properties"].get("Events", {}).values())
)


@pytest.mark.parametrize("name", API_FUNCTIONS_WITH_A_TABLE)
def test_every_api_function_may_read_an_accounts_erasure_record(name):
    statements = _role_statements(_function_role(FUNCTIONS[name]["Properties"]))
    readers = [
        statement
        for statement in statements
        if "dynamodb:GetItem" in _as_list(statement["Action"])
        and _as_list(statement["Resource"]) == [{"Fn::GetAtt": ["ReceiptVaultTable", "Arn"]}]
        and all(
            "DELETION#*" in values or "DELETION#" in str(values)
            for condition in (statement.get("Condition") or {}).values()
            for values in condition.values()
        )
    ]

    assert readers, f"{name} cannot read DELETION# records"
