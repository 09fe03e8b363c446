"""The whole backend on one machine, without Docker: emulation, functions, gateway, triggers.

Start-up: the AWS emulation (moto server) starts, every resource in the template is
provisioned in it, the stand-ins start, the functions are registered (each is loaded on its
first call), event sources are wired from the functions' `Events`, a demo user is seeded, and
the gateway serves the API. Everything is read from template.yaml and api/openapi.yaml.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import logging
import os
import re
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, cast

from moto.sns.models import sns_backends

from local.amplify import amplify_configuration, amplify_outputs
from local.auth import CognitoAuthorizer
from local.cfn_template import (
    OPENAPI_PATH,
    PROJECT_ROOT,
    Template,
    TemplateNode,
    load_template,
    load_yaml,
    resources_of_type,
)
from local.clock import clock_offset, iso_timestamp, shift_emulated_cognito, utc_now
from local.cognito import confirmation_codes, install_cognito_fidelity
from local.emulation import (
    StrictMotoServer,
    host_of,
    is_ip_address,
    make_dynamodb_items_linear_to_build,
    make_dynamodb_queries_read_one_partition,
    make_dynamodb_requests_atomic,
    make_dynamodb_streams_faithful,
    reset_emulation,
)
from local.gateway import MAX_BODY_BYTES, Gateway, HttpResponse
from local.intrinsics import ACCOUNT_ID
from local.provision import LOCAL_CDN_PATH, LocalResources
from local.runtime import UNRESERVED_LIMIT, FunctionError, LocalFunction, TooManyRequestsError
from local.sam_local_env import env_file
from local.schedule_expressions import Schedule
from local.servers import LocalHttpServer
from local.smtp import LocalSmtpServer, ReceivingRule
from local.standins import StandInServer
from local.throttle import StageThrottle
from local.token import access_token
from local.triggers import QueueSource, ScheduleSource, StreamSource, Triggers
from local.waf import WebAclRules
from receipt_vault.shapes import JsonObject, JsonValue

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from local.iam.policy import RolePolicies

DEMO_USER = {"email": "demo@receiptvault.local", "password": "Demo-Passw0rd!"}
# Locally both push platforms exist, with emulated credentials, so pushes can be observed.
LOCAL_PARAMETERS = {
    "Stage": "dev",
    "CorsAllowedOrigins": "http://localhost:3000,http://localhost:8080",
    "FcmCredentialsParameterName": "/receiptvault/local/fcm-service-account",
    "ApnsSigningKeyParameterName": "/receiptvault/local/apns-signing-key",
    "ApnsKeyId": "LOCALKEY01",
    "ApnsTeamId": "LOCALTEAM1",
    # Receipts by e-mail, through the local SMTP listener (local/smtp.py) standing in for SES.
    "InboundMailDomain": "mail.receiptvault.localhost",
}


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 5000
    smtp_port: int = 0  # SES receiving's stand-in; 0: any free port (`make dev` asks for 2525)
    region: str = "eu-west-1"
    template: Template | None = None  # default: template.yaml
    template_root: Path = PROJECT_ROOT  # CodeUri and ContentUri are relative to it
    openapi_path: Path = OPENAPI_PATH
    parameters: dict[str, str] = field(default_factory=lambda: dict(LOCAL_PARAMETERS))
    run_schedules: bool = True
    seed_demo_user: bool = True
    log: Callable[[JsonObject], None] | None = None
    # Environments per function without reserved concurrency (local/runtime.py).
    unreserved_concurrency: int = UNRESERVED_LIMIT
    # Every AWS call a function makes is checked against its template role (local/iam/).
    enforce_roles: bool = True
    # The stage's method throttling (local/throttle.py). Test suites turn it off: they send
    # bursts no app would, and one test shows the limit itself.
    stage_throttling: bool = True


@dataclass
class _Running:
    """The parts of a started stack; they exist together or not at all."""

    moto: StrictMotoServer
    http: ThreadingHTTPServer
    resources: LocalResources
    standins: StandInServer
    triggers: Triggers
    gateway: Gateway | None = None
    smtp: LocalSmtpServer | None = None  # only when the template receives mail


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.template = self.config.template or load_template()
        self.functions: dict[str, LocalFunction] = {}
        self._log = self.config.log or _print_json
        self._running: _Running | None = None

    @property
    def running(self) -> _Running:
        if self._running is None:
            raise RuntimeError("the local stack is not started")
        return self._running

    @property
    def resources(self) -> LocalResources:
        return self.running.resources

    @property
    def standins(self) -> StandInServer:
        return self.running.standins

    @property
    def triggers(self) -> Triggers:
        return self.running.triggers

    @property
    def smtp(self) -> LocalSmtpServer | None:
        return self.running.smtp

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        shift_emulated_cognito()
        make_dynamodb_requests_atomic()
        make_dynamodb_queries_read_one_partition()
        make_dynamodb_items_linear_to_build()
        make_dynamodb_streams_faithful()
        install_cognito_fidelity(self.config.region)
        # The pool's and the app client's ids derive from their definitions, so they stay the
        # same from one run to the next: an app's Amplify configuration and env.json keep working.
        for variable in ("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY"):
            os.environ.setdefault(variable, "HASH")
        moto = StrictMotoServer(ip_address=self.config.host, port=self.config.aws_port, verbose=False)
        moto.start()
        http = LocalHttpServer((self.config.host, self.config.api_port), self._request_handler())
        host, port = moto.get_host_and_port()
        # A stack started after another in the same process (a test session) must not find the
        # first one's resources.
        reset_emulation()
        resources = LocalResources(
            self.template,
            self.config.parameters,
            self.config.region,
            f"http://{host}:{port}",
            _url_of(http),
        )
        resources.provision_all()
        standins = StandInServer(self._read_s3_object, host=self.config.host)
        standins.start()
        triggers = Triggers(
            resources.client("sqs"),
            lambda function, event: self.invoke(function, event, wait_for_capacity=True),
            self.config.region,
            ACCOUNT_ID,
        )
        self._running = _Running(moto, http, resources, standins, triggers)
        self._register_functions()
        self._wire_event_sources()
        self._running.gateway = Gateway(
            load_yaml(self.config.openapi_path),
            resources.resolve,
            self._authorizer(),
            self.invoke,
            self.stage,
            self._log,
            WebAclRules.from_template(self.template, resources.resolve, resources.resolver.is_enabled),
            StageThrottle.from_template(self.template, resources.resolve) if self.config.stage_throttling else None,
        )
        if self.config.seed_demo_user:
            self._seed_demo_user()
        self._running.smtp = self._smtp_server()
        triggers.start(run_schedules=self.config.run_schedules)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._running is None:
            return
        running, self._running = self._running, None
        if running.smtp is not None:
            running.smtp.stop()
        running.triggers.stop()
        for function in self.functions.values():
            function.stop()
        running.http.shutdown()
        running.http.server_close()
        running.standins.stop()
        running.moto.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- facts -----------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return _url_of(self.running.http)

    @property
    def aws_endpoint(self) -> str:
        return self.resources.endpoint_url

    @property
    def stage(self) -> str:
        return str(self.config.parameters.get("Stage", "dev"))

    def _logical_ids_of(self, resource_type: str) -> list[str]:
        return [
            name for name in resources_of_type(self.template, resource_type) if self.resources.resolver.is_enabled(name)
        ]

    @property
    def user_pool_id(self) -> str:
        return self.resources.physical_id(self._logical_ids_of("AWS::Cognito::UserPool")[0])

    @property
    def user_pool_client_id(self) -> str:
        return self.resources.physical_id(self._logical_ids_of("AWS::Cognito::UserPoolClient")[0])

    def config_document(self, seen_as: str | None = None) -> JsonObject:
        """What a client or script needs to sign up, sign in and call the API. `seen_as`: the
        host name the client reached the stack by (10.0.2.2 from an Android emulator), which
        every URL then carries."""
        document: JsonObject = {
            "apiUrl": self.api_url,
            "region": self.config.region,
            "userPoolId": self.user_pool_id,
            "userPoolClientId": self.user_pool_client_id,
            "cognitoEndpoint": self.aws_endpoint,
            "awsEndpoint": self.aws_endpoint,
            "standInsEndpoint": self.standins.url,
            "demoUser": dict(DEMO_USER) if self.config.seed_demo_user else None,
            "thumbnailBaseUrl": f"{self.api_url}{LOCAL_CDN_PATH}",
            "functions": sorted(self.functions),
            "schedules": sorted(self.triggers.schedules),
            # Where to send receipts by e-mail, as SES would receive them.
            "smtp": (
                {"host": self.smtp.host, "port": self.smtp.port, "domains": sorted(self.smtp.rule.recipient_domains)}
                if self.smtp
                else None
            ),
            # The stack's clock (CLOCK_OFFSET_DAYS): scripts derive their dates from it.
            "clock": {"now": iso_timestamp(utc_now()), "offsetDays": clock_offset().days},
        }
        if seen_as:
            for name, value in document.items():
                if isinstance(value, str) and value.startswith("http://"):
                    port = urllib.parse.urlsplit(value).port
                    document[name] = urllib.parse.urlsplit(value)._replace(netloc=f"{seen_as}:{port}").geturl()
        return document

    def access_token(self, email: str = DEMO_USER["email"], password: str = DEMO_USER["password"]) -> str:
        return access_token(self.config_document(), email, password)

    # -- functions -------------------------------------------------------------------------------

    def invoke(self, logical_id: str, event: JsonValue, wait_for_capacity: bool = False) -> JsonValue:
        """A synchronous invocation (throttled beyond reserved concurrency); event sources and
        asynchronous callers pass `wait_for_capacity`, as Lambda queues their events."""
        if logical_id not in self.functions:
            raise KeyError(f"no function {logical_id} in the template")
        return self.functions[logical_id].invoke(event, wait_for_capacity=wait_for_capacity)

    def _register_functions(self) -> None:
        resolve = self.resources.resolve
        function_globals = self.template.get("Globals", {}).get("Function", {})
        for logical_id in self._logical_ids_of("AWS::Serverless::Function"):
            own = self.template["Resources"][logical_id]["Properties"]
            properties = {**function_globals, **own}
            # As SAM does: a function's layers follow the global ones.
            properties["Layers"] = [*function_globals.get("Layers", []), *own.get("Layers", [])]
            variables = {
                **function_globals.get("Environment", {}).get("Variables", {}),
                **self.template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {}),
            }
            name = self.resources.physical_id(logical_id)
            environment = {key: _as_env(value) for key, value in resolve(variables).items()}
            environment.update(
                {
                    "AWS_ENDPOINT_URL": self.aws_endpoint,
                    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.standins.url,
                    "AWS_ENDPOINT_URL_TEXTRACT": self.standins.url,
                    "AWS_ACCESS_KEY_ID": "local",
                    "AWS_SECRET_ACCESS_KEY": "local",
                    "AWS_SESSION_TOKEN": "local",
                    "AWS_REGION": self.config.region,
                    "AWS_DEFAULT_REGION": self.config.region,
                    "AWS_LAMBDA_FUNCTION_NAME": name,
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(properties.get("MemorySize", 128)),
                    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
                }
            )
            layers = [self._layer_dir(layer) for layer in properties.get("Layers", [])]
            reserved = properties.get("ReservedConcurrentExecutions")
            self.functions[logical_id] = LocalFunction(
                logical_id=logical_id,
                function_name=name,
                arn=self.resources.attribute(logical_id, "Arn"),
                code_dir=self.config.template_root / properties["CodeUri"],
                handler=properties["Handler"],
                layer_dirs=[layer for layer in layers if layer is not None],
                environment=environment,
                timeout_seconds=int(properties.get("Timeout", 3)),
                memory_mb=int(properties.get("MemorySize", 128)),
                events=properties.get("Events", {}),
                reserved_concurrency=None if reserved is None else int(resolve(reserved)),
                unreserved_limit=self.config.unreserved_concurrency,
                region=self.config.region,
                account_id=ACCOUNT_ID,
                role=self._role_of(logical_id) if self.config.enforce_roles else None,
                hidden_paths=_project_paths(),
                source_root=PROJECT_ROOT / "src",
            )

    def _role_of(self, logical_id: str) -> RolePolicies:
        from local import iam

        return iam.role_policies(self.template, logical_id, self.resources.resolve)

    def _layer_dir(self, layer: TemplateNode) -> Path | None:
        if isinstance(layer, dict) and "Ref" in layer:
            resource = self.template["Resources"].get(layer["Ref"], {})
            if resource.get("Type") == "AWS::Serverless::LayerVersion":
                content: str = resource["Properties"]["ContentUri"]
                return self.config.template_root / content
        return None  # a published layer ARN has no local source

    def _wire_event_sources(self) -> None:
        for logical_id, function in self.functions.items():
            for name, event in function.events.items():
                properties = event.get("Properties", {})
                kind = event["Type"]
                if kind == "SQS":
                    queue_arn = self.resources.resolve(properties["Queue"])
                    queue_url = self.resources.client("sqs").get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])[
                        "QueueUrl"
                    ]
                    self.triggers.add_queue(
                        QueueSource(
                            logical_id,
                            queue_url,
                            queue_arn,
                            batch_size=int(properties.get("BatchSize", 10)),
                            report_item_failures="ReportBatchItemFailures"
                            in properties.get("FunctionResponseTypes", []),
                        )
                    )
                elif kind == "S3":
                    events = properties["Events"] if isinstance(properties["Events"], list) else [properties["Events"]]
                    rules = properties.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                    self.triggers.add_s3_source(
                        self.resources.client("s3"),
                        logical_id,
                        self.resources.resolve(properties["Bucket"]),
                        events,
                        self.resources.resolve(rules),
                    )
                elif kind == "DynamoDB":
                    source = self._stream_source(logical_id, name, self.resources.resolve(properties))
                    if source is not None:
                        self.triggers.add_stream_source(self.resources.client("dynamodbstreams"), source)
                elif kind in ("Schedule", "ScheduleV2"):
                    expression = properties.get("Schedule") or properties.get("ScheduleExpression")
                    payload = properties.get("Input")
                    self.triggers.add_schedule(
                        ScheduleSource(
                            logical_id,
                            properties.get("Name", f"{logical_id}-{name}"),
                            Schedule(expression),
                            json.loads(payload) if isinstance(payload, str) else None,
                        )
                    )

    def _stream_source(self, logical_id: str, event: str, properties: TemplateNode) -> StreamSource | None:
        """A DynamoDB event's mapping, or None when it is disabled. What the local poller does
        not implement is refused, not ignored; STREAM_PROPERTIES_WITHOUT_EFFECT are accepted."""
        where = f"{logical_id}.Events.{event}"
        unknown = set(properties) - STREAM_PROPERTIES - set(STREAM_PROPERTIES_WITHOUT_EFFECT)
        if unknown:
            raise ValueError(f"{where}: {', '.join(sorted(unknown))} not implemented by the local stream poller")
        if properties.get("Enabled", True) is False:
            return None
        if int(properties.get("ParallelizationFactor", 1)) != 1:
            raise ValueError(f"{where}: only ParallelizationFactor 1 (one batch at a time per shard) is implemented")
        stream = properties["Stream"]
        if not isinstance(stream, str) or not re.fullmatch(r"arn:aws:dynamodb:[^:]+:\d+:table/[^/]+/stream/.+", stream):
            raise ValueError(f"{where}: Stream is {stream!r}, not a stream ARN (does the table declare a stream?)")
        responses = set(properties.get("FunctionResponseTypes", [])) - {"ReportBatchItemFailures"}
        if responses:
            raise ValueError(f"{where}: FunctionResponseTypes {sorted(responses)} not implemented")
        destinations = properties.get("DestinationConfig", {})
        if set(destinations) - {"OnFailure"}:
            raise ValueError(f"{where}: a stream's DestinationConfig has OnFailure only")
        on_failure = destinations.get("OnFailure")
        queue_url = None
        if on_failure is not None:
            target = str(on_failure["Destination"])
            if on_failure.get("Type", "SQS") != "SQS" or not target.startswith("arn:aws:sqs:"):
                raise ValueError(f"{where}: only an SQS queue is implemented as the OnFailure destination")
            queue_url = self.resources.client("sqs").get_queue_url(QueueName=target.rsplit(":", 1)[1])["QueueUrl"]
        try:
            return StreamSource(
                logical_id,
                self.functions[logical_id].arn,
                stream,
                batch_size=int(properties.get("BatchSize", 100)),
                starting_position=properties["StartingPosition"],
                filter_patterns=[str(f["Pattern"]) for f in properties.get("FilterCriteria", {}).get("Filters", [])],
                report_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
                bisect_on_error=bool(properties.get("BisectBatchOnFunctionError", False)),
                maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
                maximum_record_age_seconds=int(properties.get("MaximumRecordAgeInSeconds", -1)),
                on_failure_queue_url=queue_url,
            )
        except ValueError as refused:  # out of range, or a filter the poller cannot apply
            raise type(refused)(f"{where}: {refused}") from refused

    # -- helpers ---------------------------------------------------------------------------------

    def _smtp_server(self) -> LocalSmtpServer | None:
        """SES receiving, as the template's receipt rule says: mail for its recipient domains is
        stored in its S3 action's bucket under its prefix, and the bucket's event does the rest."""
        for logical_id in self._logical_ids_of("AWS::SES::ReceiptRule"):
            rule = self.resources.resolve(self.template["Resources"][logical_id]["Properties"]["Rule"])
            action = next((action["S3Action"] for action in rule.get("Actions", []) if "S3Action" in action), None)
            if not rule.get("Enabled", True) or action is None:
                continue
            bucket, s3 = str(action["BucketName"]), self.resources.client("s3")

            def store(key: str, raw: bytes, bucket: str = bucket, s3: S3Client = s3) -> None:
                s3.put_object(Bucket=bucket, Key=key, Body=raw)

            receiving = ReceivingRule(
                frozenset(str(domain).lower() for domain in rule.get("Recipients", [])),
                str(action.get("ObjectKeyPrefix", "")),
            )
            server = LocalSmtpServer(store, receiving, host=self.config.host, port=self.config.smtp_port)
            server.start()
            return server
        return None

    def _authorizer(self) -> CognitoAuthorizer:
        return CognitoAuthorizer(self.aws_endpoint, self.config.region, self.user_pool_id, {self.user_pool_client_id})

    def _seed_demo_user(self) -> None:
        cognito = self.resources.client("cognito-idp")
        cognito.admin_create_user(
            UserPoolId=self.user_pool_id,
            Username=DEMO_USER["email"],
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": DEMO_USER["email"]},
                {"Name": "email_verified", "Value": "true"},
            ],
        )
        cognito.admin_set_user_password(
            UserPoolId=self.user_pool_id,
            Username=DEMO_USER["email"],
            Password=DEMO_USER["password"],
            Permanent=True,
        )

    def notifications(self) -> list[JsonObject]:
        """Every push device the emulation knows, with the notifications it received: what a
        phone would have shown. Each message is its FCM or APNs body."""
        backend = sns_backends[ACCOUNT_ID][self.config.region]
        devices = []
        for arn, endpoint in list(backend.platform_endpoints.items()):
            platform = "ios" if endpoint.application.platform.startswith("APNS") else "android"
            key = "APNS" if platform == "ios" else "GCM"
            devices.append(
                {
                    "endpointArn": arn,
                    "platform": platform,
                    "owner": endpoint.attributes.get("CustomUserData") or endpoint.custom_user_data,
                    "enabled": endpoint.enabled,
                    "notifications": [json.loads(json.loads(raw).get(key, "{}")) for raw in endpoint.messages.values()],
                }
            )
        return devices

    def _read_s3_object(self, bucket: str, key: str) -> bytes:
        return self.resources.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    def _cdn_routes(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """(path pattern, bucket, response headers) for each cache behaviour of the template's
        distributions, whose default behaviour answers 404: the local CDN serves what CloudFront
        would, nothing more."""
        routes = []
        for logical_id in self._logical_ids_of("AWS::CloudFront::Distribution"):
            config = self.template["Resources"][logical_id]["Properties"]["DistributionConfig"]
            origins = {origin["Id"]: origin["DomainName"] for origin in config.get("Origins", [])}
            for behaviour in config.get("CacheBehaviors", []):
                domain = origins.get(behaviour["TargetOriginId"], {})
                bucket_id = domain.get("Fn::GetAtt", [None])[0] if isinstance(domain, dict) else None
                if bucket_id:
                    headers = MANAGED_RESPONSE_HEADERS.get(behaviour.get("ResponseHeadersPolicyId", ""), [])
                    routes.append((behaviour["PathPattern"], self.resources.physical_id(bucket_id), headers))
        return routes

    def _local_cdn(self, path: str) -> HttpResponse:
        key = path.removeprefix(f"{LOCAL_CDN_PATH}/")
        for pattern, bucket, policy_headers in self._cdn_routes():
            if fnmatch.fnmatchcase(key, pattern):
                try:
                    body = self._read_s3_object(bucket, key)
                except Exception:
                    missing = _json_response(404, {"message": "Not Found"})
                    return HttpResponse(missing.status, [*missing.headers, *policy_headers], missing.body)
                served = [("Content-Type", "image/jpeg"), ("Cache-Control", "public, max-age=86400")]
                return HttpResponse(200, [*served, *policy_headers], body)
        return _json_response(404, {"message": "Not Found"})

    def _refuse_foreign(self, method: str, headers: dict[str, str]) -> HttpResponse | None:
        """/_local is for the developer's tools, never for a web page they happen to visit: a
        browser request from another origin that would change state is refused (browsers always
        send Origin then), and so is any request under a name other than the stack's own (DNS
        rebinding would otherwise let a page read the confirmation codes)."""
        lowered = {name.lower(): value for name, value in headers.items()}
        host = host_of(lowered.get("host", ""))
        if host != "localhost" and not is_ip_address(host):  # a name a rebinding DNS could point here
            return _json_response(
                403, {"error": "FORBIDDEN", "message": "the local endpoints answer only on this machine"}
            )
        if method in ("GET", "HEAD", "OPTIONS"):
            return None
        origin = lowered.get("origin")
        as_sent = _host_name(lowered.get("host", ""))  # "[::1]" as an Origin writes it
        own = {f"http://{name}:{self.running.http.server_address[1]}" for name in ("localhost", "127.0.0.1", as_sent)}
        if (origin is not None and origin not in own) or lowered.get("sec-fetch-site") in ("cross-site", "same-site"):
            return _json_response(403, {"error": "FORBIDDEN", "message": "no cross-origin requests to /_local"})
        return None

    def _local_endpoint(self, method: str, target: str, body: bytes, host: str = "") -> HttpResponse:
        path, _, query = target.partition("?")
        seen_as = _host_name(host)
        parts = path.strip("/").split("/")
        if method in ("GET", "HEAD") and path.startswith(f"{LOCAL_CDN_PATH}/"):
            return self._local_cdn(path)
        try:
            if method == "GET" and parts == ["_local", "config"]:
                return _json_response(200, self.config_document(seen_as))
            if method == "GET" and parts == ["_local", "env.json"]:
                return _json_response(200, {"Parameters": {"REGION": self.config.region}, **env_file(self)})
            if method == "GET" and parts == ["_local", "confirmation-codes"]:
                username = urllib.parse.parse_qs(query).get("username", [""])[0]
                if not username:
                    return _json_response(400, {"error": "BAD_REQUEST", "message": "username is required"})
                return _json_response(200, {"codes": confirmation_codes(username)})
            if method == "GET" and parts == ["_local", "amplifyconfiguration.json"]:
                return _json_response(200, amplify_configuration(self.config_document(seen_as), self.template))
            if method == "GET" and parts == ["_local", "amplify_outputs.json"]:
                return _json_response(200, amplify_outputs(self.config_document(seen_as), self.template))
            if method == "GET" and parts == ["_local", "triggers"]:
                return _json_response(200, {"history": self.triggers.stats.history})
            if method == "GET" and parts == ["_local", "notifications"]:
                return _json_response(200, {"devices": self.notifications()})
            if method == "POST" and len(parts) == 3 and parts[:2] == ["_local", "schedules"]:
                if parts[2] not in self.triggers.schedules:
                    return _json_response(404, {"error": "NOT_FOUND", "message": f"no schedule for {parts[2]}"})
                request = _local_json(body)
                if not isinstance(request, dict):
                    raise BadLocalRequestError(
                        'the body must be a JSON object, such as {"time": "2026-11-23T09:00:00Z"}'
                    )
                at = _instant(request.get("time"))
                return _json_response(200, {"function": parts[2], "result": self.triggers.fire(parts[2], at)})
            if method == "POST" and len(parts) == 3 and parts[:2] == ["_local", "invoke"]:
                if parts[2] not in self.functions:
                    return _json_response(404, {"error": "NOT_FOUND", "message": f"no function {parts[2]}"})
                return _json_response(200, {"result": self.invoke(parts[2], _local_json(body))})
        except FunctionError as failure:  # as `aws lambda invoke` reports an unhandled error
            return _json_response(500, {"error": "FUNCTION_ERROR", "message": str(failure), **failure.payload})
        except TooManyRequestsError as throttled:
            return _json_response(429, {"error": "TOO_MANY_REQUESTS", "message": str(throttled)})
        except BadLocalRequestError as refused:
            return _json_response(400, {"error": "BAD_REQUEST", "message": str(refused)})
        except Exception as error:
            return _json_response(500, {"error": "INTERNAL_ERROR", "message": repr(error)})
        return _json_response(404, {"error": "NOT_FOUND", "message": "no such local endpoint"})

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        stack = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as clients expect of API Gateway
            # Headers and body go out in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK add about 40 ms to every keep-alive response.
            disable_nagle_algorithm = True
            timeout = 60  # a client that stops sending mid-request is dropped, not waited for forever

            def _read_body(self) -> bytes | str:
                """The body as sent, or why it cannot be read (then the connection closes: where
                the next request would start is unknown). Chunked bodies are read as API Gateway
                reads them; more than MAX_BODY_BYTES is cut at MAX_BODY_BYTES + 1, for the 413."""
                coding = self.headers.get("Transfer-Encoding", "").lower()
                if coding:
                    if coding.rsplit(",", 1)[-1].strip() != "chunked":
                        return f"unsupported Transfer-Encoding {coding!r}"
                    return self._read_chunks()
                lengths = {value.strip() for value in self.headers.get_all("Content-Length") or []}
                if len(lengths) > 1:  # which one frames the body is anyone's guess: request smuggling
                    return "conflicting Content-Length headers"
                declared = lengths.pop() if lengths else "0"
                if not declared.isdigit() or not declared.isascii():
                    return "Content-Length must be a non-negative integer"
                length = int(declared)
                if length > MAX_BODY_BYTES:
                    self.close_connection = True
                    return self.rfile.read(MAX_BODY_BYTES + 1)
                return self.rfile.read(length) if length else b""

            def _read_chunks(self) -> bytes | str:
                body = bytearray()
                while True:
                    size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                    try:
                        size = int(size_line, 16)
                    except ValueError:
                        return "malformed chunked body"
                    if size == 0:
                        while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                            pass
                        return bytes(body)
                    if len(body) + size > MAX_BODY_BYTES:
                        self.close_connection = True
                        return bytes(body) + self.rfile.read(MAX_BODY_BYTES + 1 - len(body))
                    body += self.rfile.read(size)
                    if self.rfile.read(2) != b"\r\n":
                        return "malformed chunked body"

            def _serve(self) -> None:
                body = self._read_body()
                if isinstance(body, str):
                    self.close_connection = True
                    gateway = stack.running.gateway
                    refused = gateway.refuse_framing(body) if gateway else None
                    self._answer(refused or _json_response(400, {"error": "BAD_REQUEST", "message": body}))
                    return
                if self.path.startswith("/_local/"):
                    response = stack._refuse_foreign(self.command, dict(self.headers.items())) or stack._local_endpoint(
                        self.command, self.path, body, self.headers.get("Host", "")
                    )
                elif stack.running.gateway is None:
                    response = _json_response(503, {"error": "INTERNAL_ERROR", "message": "starting"})
                else:
                    response = stack.running.gateway.handle(
                        self.command, self.path, dict(self.headers.items()), body, self.client_address[0]
                    )
                self._answer(response)

            def _answer(self, response: HttpResponse) -> None:
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

            def __getattr__(self, name: str) -> Callable[[], None]:
                """API Gateway answers any method (TRACE, QUERY, ...); one that a path does not
                declare gets its ANY method's 405, or on no path the gateway response, never the
                HTTP server's 501."""
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                """The HTTP server's own refusals (an unreadable request line, headers too long)
                in the standard error shape, not its HTML page."""
                self.close_connection = True
                self.request_version = "HTTP/1.1"  # an unreadable line leaves HTTP/0.9: no status line
                error = "BAD_REQUEST" if code < 500 else "INTERNAL_ERROR"
                self._answer(_json_response(code, {"error": error, "message": message or explain or "Bad Request"}))

            def log_message(self, *_: object) -> None:
                pass  # the gateway logs one structured line per request

        return Handler


def _project_paths() -> tuple[Path, ...]:
    """This process's sys.path entries inside the project (the venv's .pth puts the root and the
    layers there): a function's environment leaves them out, as Lambda has only what is deployed."""
    root = PROJECT_ROOT.resolve()
    inside: list[Path] = []
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if path == root or (root / "src") in (path, *path.parents):
            inside.append(path)
    return tuple(inside)


# A DynamoDB event's properties the local stream poller implements (local/triggers.py), and
# those it accepts though they change nothing that can be observed locally.
STREAM_PROPERTIES = frozenset(
    {
        "Stream",
        "StartingPosition",
        "BatchSize",
        "Enabled",
        "FilterCriteria",
        "FunctionResponseTypes",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "DestinationConfig",
        "ParallelizationFactor",  # 1 only
    }
)
STREAM_PROPERTIES_WITHOUT_EFFECT = {
    "MaximumBatchingWindowInSeconds": "records are delivered as soon as a poll reads them",
    "KmsKeyArn": "encrypts the filter criteria at rest in the mapping",
    "MetricsConfig": "the mapping's CloudWatch metrics, which the local stack has none of",
}

# The headers CloudFront's managed response headers policies add, by policy id.
MANAGED_RESPONSE_HEADERS: dict[str, list[tuple[str, str]]] = {
    "67f7725c-6f97-4210-82d7-5512b31e9d03": [  # Managed-SecurityHeadersPolicy
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-XSS-Protection", "1; mode=block"),
    ],
}


def _host_name(host_header: str) -> str:
    """The host of a Host header, as a URL writes it ("[::1]" for an IPv6 address)."""
    name = host_of(host_header)
    return f"[{name}]" if ":" in name else name


def _url_of(server: ThreadingHTTPServer) -> str:
    host, port = cast("tuple[str, int]", server.server_address[:2])  # an AF_INET(6) server
    return f"http://{host}:{port}"


def _as_env(value: TemplateNode) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


class BadLocalRequestError(ValueError):
    """A /_local request that cannot be carried out as sent: a 400 that says why."""


def _local_json(body: bytes) -> JsonValue:
    """A /_local request's JSON body ({} when empty)."""
    try:
        return json.loads(body or b"{}")
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise BadLocalRequestError(f"the body is not JSON: {type(error).__name__}") from None


def _instant(raw: JsonValue) -> dt.datetime | None:
    """`2026-11-22T08:00:00Z` as an aware datetime; None for absent."""
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise BadLocalRequestError("time must be an ISO 8601 instant, such as 2026-11-23T09:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _json_response(status: int, body: JsonValue) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(body, default=str).encode("utf-8"))


def _print_json(line: JsonObject) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
