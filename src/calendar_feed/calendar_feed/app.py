"""calendar-feed: POST and DELETE /user/calendar-feed (the secret URL), and GET
/calendar/{feedFile}, the feed itself, which calendar apps poll without a Cognito token."""

from __future__ import annotations

from calendar_feed.feed_service import FEED_SUFFIX, CalendarFeedService
from calendar_feed.feed_store import FeedStore
from receipt_vault import init_phase
from receipt_vault.api import build_api, current_user_id, make_lambda_handler, to_json
from receipt_vault.clock import utc_now
from receipt_vault.dynamo import dynamodb_table
from receipt_vault.observability import setup_observability
from receipt_vault.receipts.store import ReceiptStore
from receipt_vault.rest import Response
from receipt_vault.settings import TableApiSettings, load_settings

# A calendar app may keep the feed a few minutes (it is the user's own, so no shared cache may).
FEED_CACHE_CONTROL = "private, max-age=300"

settings = load_settings(TableApiSettings)
observability = setup_observability()
app = build_api(settings, observability)
table = dynamodb_table(settings.table_name)
feeds = CalendarFeedService(FeedStore(table), ReceiptStore(table))


@app.post("/user/calendar-feed")
def enable_feed() -> Response[str]:
    token, created_at = feeds.enable(current_user_id(app), utc_now())
    body = {"feedUrl": f"{_public_base_url()}/calendar/{token}{FEED_SUFFIX}", "createdAt": created_at}
    return Response(status_code=201, content_type="application/json", body=to_json(body))


@app.delete("/user/calendar-feed")
def revoke_feed() -> Response[str]:
    feeds.revoke(current_user_id(app))
    return Response(status_code=204, content_type="application/json", body="")


@app.get("/calendar/<feedFile>")
def calendar_feed(feedFile: str) -> Response[str]:
    event = app.current_event
    feed = feeds.feed(feedFile, event.request_context.identity.source_ip or "", utc_now())
    headers = {"ETag": feed.etag, "Cache-Control": FEED_CACHE_CONTROL}
    wanted = _entity_tags(event.headers.get("If-None-Match") or event.headers.get("if-none-match"))
    if feed.etag in wanted or "*" in wanted:  # `*`: any version of a feed that exists
        return Response(status_code=304, headers=headers, body="")
    return Response(
        status_code=200, content_type="text/calendar; charset=utf-8", headers=headers, body=feed.body.decode()
    )


def _entity_tags(header: str | None) -> set[str]:
    """If-None-Match's tags, weak ones compared as strong (a feed has no weak tags)."""
    return {tag.strip().removeprefix("W/") for tag in (header or "").split(",") if tag.strip()}


def _public_base_url() -> str:
    """Where this API is reached, as the request came: the scheme API Gateway forwarded, the Host,
    and what precedes the route in the request's path (the stage on execute-api, a custom
    domain's base path)."""
    event = app.current_event
    forwarded = event.headers.get("X-Forwarded-Proto") or event.headers.get("x-forwarded-proto")
    scheme = forwarded if forwarded in ("http", "https") else "https"
    host = event.headers.get("Host") or event.headers.get("host") or ""
    full_path = event.request_context.path or event.path
    prefix = full_path[: len(full_path) - len(event.path)] if full_path.endswith(event.path) else ""
    return f"{scheme}://{host}{prefix}"


lambda_handler = make_lambda_handler(app, observability, table_name=settings.table_name)

init_phase.end()  # init is over: what it made is frozen, collecting resumes
