"""`make dev`: the whole backend on this machine, in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings

from local.clock import clock_offset, iso_timestamp, utc_now
from local.stack import DEMO_USER, LocalStack, StackConfig

DEFAULT_PORT = 3000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"API port (default {DEFAULT_PORT})")
    parser.add_argument("--aws-port", type=int, default=5000, help="AWS emulation port (default 5000)")
    parser.add_argument("--smtp-port", type=int, default=2525, help="SMTP port, standing in for SES (default 2525)")
    parser.add_argument("--no-schedules", action="store_true", help="fire schedules only on demand")
    args = parser.parse_args(argv)
    # Powertools warns on every invocation that flushes no metric; locally that is only noise.
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    stack = LocalStack(
        StackConfig(
            host=args.host,
            api_port=args.port,
            aws_port=args.aws_port,
            smtp_port=args.smtp_port,
            run_schedules=not args.no_schedules,
        )
    )
    stack.start()
    print(banner(stack), flush=True)
    stopped = threading.Event()
    # Handlers rather than KeyboardInterrupt: a shell may start background jobs ignoring SIGINT.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: stopped.set())
    while not stopped.wait(0.5):
        pass
    print("\nStopping the local stack...", flush=True)
    stack.stop()
    return 0


def banner(stack: LocalStack) -> str:
    token = stack.access_token()
    schedules = ", ".join(sorted(stack.triggers.schedules)) or "none"
    port = stack.running.http.server_address[1]
    # `make token` and `make invoke` find the stack on PORT, as `make dev` was given it.
    make_suffix = "" if port == DEFAULT_PORT else f" PORT={port}"
    offset = clock_offset().days
    clock = [f"  clock           {iso_timestamp(utc_now())}   (CLOCK_OFFSET_DAYS={offset})"] if offset else []
    return "\n".join(
        [
            "",
            "Receipt Vault local stack is up (Ctrl-C stops it)",
            f"  API             {stack.api_url}            (routes of api/openapi.yaml, Cognito tokens enforced)",
            f"  health          {stack.api_url}/health",
            f"  client config   {stack.api_url}/_local/config",
            f"  AWS emulation   {stack.aws_endpoint}            (moto: DynamoDB, S3, SQS, SNS, KMS, Cognito, ...)",
            f"  stand-ins       {stack.standins.url}            (Bedrock runtime, Textract)",
            *_smtp_lines(stack),
            f"  user pool       {stack.user_pool_id}   client {stack.user_pool_client_id}",
            f"  demo user       {DEMO_USER['email']} / {DEMO_USER['password']}",
            f"  schedules       {schedules}   (POST {stack.api_url}/_local/schedules/<FunctionLogicalId>)",
            f"  notifications   {stack.api_url}/_local/notifications   (what each registered device received)",
            f"  sam local       {stack.api_url}/_local/env.json   (`sam local invoke --env-vars` for this run)",
            *clock,
            "",
            f"Try it (the token is valid for an hour; `make token{make_suffix}` prints a fresh one):",
            f'  curl -s -H "Authorization: Bearer {token}" {stack.api_url}/receipts',
            "",
        ]
    )


def _smtp_lines(stack: LocalStack) -> list[str]:
    smtp = stack.smtp
    if smtp is None:
        return []
    domain = sorted(smtp.rule.recipient_domains)[0]
    return [
        f"  SMTP (SES)      {smtp.host}:{smtp.port}   (mail to r-...@{domain}: POST /user/inbound-address gives one)"
    ]


if __name__ == "__main__":
    sys.exit(main())
