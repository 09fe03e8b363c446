"""S3 in the local stack checks signatures, as S3 does: moto accepts any request, signed or not.

Without this, a pre-signed upload URL guarantees nothing locally: a client can change the
signed length, type or `If-None-Match`, reuse a URL after it expires, or skip the URL and PUT
into another user's prefix unsigned, and the app's tests would pass against behaviour AWS never
shows. So every request to a bucket is verified before moto sees it:

- unsigned: 403 AccessDenied (the buckets block public access);
- signed with an access key the stack does not know: 403 InvalidAccessKeyId;
- a signature that does not cover the request as sent (SigV4, in the Authorization header or
  pre-signed in the query): 403 SignatureDoesNotMatch;
- a pre-signed URL past its X-Amz-Expires: 403 AccessDenied "Request has expired".

The signature is recomputed with botocore's own SigV4 code over the headers the client says it
signed, with the values it sent. Not modelled: payload hashes of header-signed requests (the
signed `x-amz-content-sha256` value is trusted, as an emulator's callers are the stack's own
functions), POST policies and request time skew. SigV2 is refused (400 InvalidRequest), as in
the regions that never took it; eu-west-1 still accepts it from old clients. An Authorization
header beside a pre-signed query (an HTTP interceptor adding a bearer token to an upload) is
400 InvalidArgument, as S3 answers it.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>local</RequestId></Error>"
)


class S3Signatures:
    """WSGI middleware in front of the emulator: every request moto would route to S3 must carry
    a valid SigV4 signature. Which requests those are is moto's own dispatcher's decision
    (`routes`), so no header or credential scope can steer a request past the check and still
    reach a bucket."""

    def __init__(
        self,
        app: WSGIApplication,
        secrets: dict[str, str],
        buckets: Callable[[], Iterable[str]],
        routes: DomainDispatcherApplication | None = None,
    ) -> None:
        self.app = app
        self.secrets = secrets  # access key id -> secret access key
        self.buckets = buckets
        self.routes = routes  # moto's DomainDispatcherApplication: infer_service_region_host

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        refusal = self.refusal(environ)
        if refusal is None:
            return self.app(environ, start_response)
        status, code, message = refusal
        body = _ERROR.format(code=code, message=message).encode()
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def _to_s3(self, environ: WSGIEnvironment) -> bool:
        path = environ.get("PATH_INFO", "")
        if self.routes is None:
            return self._names_a_bucket(environ)
        try:
            host = self.routes.infer_service_region_host(environ, path)
        except Exception:  # a header moto cannot parse ("Authorization: x"): its default, S3
            return True
        return host is None or host.startswith("s3.")  # None: moto's default service, S3

    def refusal(self, environ: WSGIEnvironment) -> tuple[int, str, str] | None:
        """(status, code, message) of S3's refusal of this request, or None to let it through."""
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not self._to_s3(environ):
            if authorization.startswith("AWS4-HMAC-SHA256 ") and self._names_a_bucket(environ):
                # Signed for another service, sent to a bucket's URL: S3 would read it, and refuse it.
                credential = authorization[17:].split(",")[0].strip().removeprefix("Credential=")
                return 400, "AuthorizationHeaderMalformed", _wrong_service("Credential", credential)
            return None  # another service's request (JSON protocols, Cognito, its JWKS)
        presigned = "X-Amz-Algorithm" in query or "X-Amz-Signature" in query
        if authorization and (presigned or "Signature" in query):
            return 400, "InvalidArgument", _ONE_MECHANISM
        if authorization.startswith("AWS4-HMAC-SHA256 "):
            try:
                fields = dict(part.strip().split("=", 1) for part in authorization[17:].split(","))
                credential, signed, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
            except (KeyError, ValueError):
                return 400, "AuthorizationHeaderMalformed", "The authorization header is malformed."
            if _service(credential) != "s3":
                return 400, "AuthorizationHeaderMalformed", _wrong_service("Credential", credential)
            return self._verify(environ, credential, signed, signature, environ.get("HTTP_X_AMZ_DATE", ""), False)
        if authorization.startswith("AWS "):
            return 400, "InvalidRequest", _SIGV4_ONLY
        if authorization:
            return 400, "InvalidArgument", "Unsupported Authorization Type"
        if "Signature" in query or "AWSAccessKeyId" in query:
            return 400, "InvalidRequest", _SIGV4_ONLY
        if presigned:
            return self._verify_query(environ, query)
        return 403, "AccessDenied", "Access Denied"

    def _verify_query(self, environ: WSGIEnvironment, query: dict[str, str]) -> tuple[int, str, str] | None:
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            return 400, "AuthorizationQueryParametersError", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"'
        missing = [name for name in _QUERY_PARAMETERS if not query.get(name)]
        if missing:
            return (
                400,
                "AuthorizationQueryParametersError",
                f"Query-string authentication version 4 requires the {', '.join(_QUERY_PARAMETERS)} parameters.",
            )
        credential = query["X-Amz-Credential"]
        if _service(credential) != "s3":
            return 400, "AuthorizationQueryParametersError", _wrong_service("X-Amz-Credential", credential)
        try:
            expires = int(query["X-Amz-Expires"])
            issued = dt.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return (
                400,
                "AuthorizationQueryParametersError",
                "X-Amz-Expires and X-Amz-Date must be an integer and an ISO 8601 basic timestamp.",
            )
        if not 1 <= expires <= 604800:
            return 400, "AuthorizationQueryParametersError", "X-Amz-Expires must be between 1 and 604800 seconds."
        if dt.datetime.now(dt.UTC) > issued + dt.timedelta(seconds=expires):  # S3's clock, not the app's
            return 403, "AccessDenied", "Request has expired"
        return self._verify(
            environ, credential, query["X-Amz-SignedHeaders"], query["X-Amz-Signature"], query["X-Amz-Date"], True
        )

    def _names_a_bucket(self, environ: WSGIEnvironment) -> bool:
        first = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
        return bool(first) and first in set(self.buckets())

    def _verify(
        self,
        environ: WSGIEnvironment,
        credential: str,
        signed_headers: str,
        signature: str,
        timestamp: str,
        presigned: bool,
    ) -> tuple[int, str, str] | None:
        access_key, _date, region, _service_name, _terminal = credential.split("/")
        secret = self.secrets.get(access_key)
        if secret is None:
            return 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        headers = _request_headers(environ)
        try:
            signed = {name: headers[name] for name in signed_headers.split(";") if name}
        except KeyError:
            return _MISMATCH
        path: str = environ.get("PATH_INFO", "/")
        raw_path = environ.get("RAW_URI", path).split("?", 1)[0]
        # The query as sent (already encoded, as the signer saw it), without the signature itself.
        parts = environ.get("QUERY_STRING", "").split("&")
        query = "&".join(part for part in parts if part and not part.startswith("X-Amz-Signature="))
        url = f"http://{headers.get('host', 'localhost')}{raw_path}" + (f"?{query}" if query else "")
        request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, headers=signed)
        request.context["timestamp"] = timestamp
        credentials = Credentials(access_key, secret)
        # A pre-signed URL signs an unsigned payload; a signed header names its payload hash.
        signer = S3SigV4QueryAuth(credentials, "s3", region) if presigned else S3SigV4Auth(credentials, "s3", region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        return None if hmac.compare_digest(expected, signature) else _MISMATCH


_MISMATCH = (
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
)


_ONE_MECHANISM = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
    "parameter or the Authorization header should be specified"
)
_SIGV4_ONLY = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
_QUERY_PARAMETERS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)


def _wrong_service(parameter: str, credential: str) -> str:
    service = _service(credential)
    return f'Error parsing the {parameter} parameter; incorrect service "{service}". This endpoint belongs to "s3".'


def _service(credential: str) -> str:
    parts = credential.split("/")
    return parts[3] if len(parts) == 5 else ""


def _request_headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items() if name.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    return headers
