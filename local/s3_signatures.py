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
functions), POST policies and request time skew. A SigV2 request counts as unsigned: S3 no
longer accepts SigV2 for buckets created since 2020.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>local</RequestId></Error>"
)


class S3Signatures:
    """WSGI middleware in front of the emulator: requests to a bucket must carry a valid signature."""

    def __init__(self, app: Any, secrets: dict[str, str], buckets: Callable[[], Iterable[str]]) -> None:
        self.app = app
        self.secrets = secrets  # access key id -> secret access key
        self.buckets = buckets

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        refusal = self.refusal(environ)
        if refusal is None:
            return self.app(environ, start_response)
        code, message = refusal
        body = _ERROR.format(code=code, message=message).encode()
        start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        return [body]

    def refusal(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """(code, message) of S3's 403 for this request, or None to let it through."""
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if authorization.startswith("AWS4-HMAC-SHA256 "):
            fields = dict(part.strip().split("=", 1) for part in authorization[17:].split(","))
            credential, signed, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
            timestamp = environ.get("HTTP_X_AMZ_DATE", "")
            if _service(credential) != "s3":
                return None  # another service's request: not S3's to check
            return self._verify(environ, credential, signed, signature, timestamp, presigned=False)
        if query.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256":
            if _service(query.get("X-Amz-Credential", "")) != "s3":
                return None
            expires = int(query.get("X-Amz-Expires", "0"))
            issued = dt.datetime.strptime(query.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
            if dt.datetime.now(dt.UTC) > issued + dt.timedelta(seconds=expires):  # S3's clock, not the app's
                return "AccessDenied", "Request has expired"
            return self._verify(
                environ,
                query["X-Amz-Credential"],
                query.get("X-Amz-SignedHeaders", ""),
                query.get("X-Amz-Signature", ""),
                query["X-Amz-Date"],
                presigned=True,
            )
        if authorization or environ.get("HTTP_X_AMZ_TARGET") or not self._names_a_bucket(environ):
            return None  # another service's request (JSON protocols, Cognito's JWKS, moto's API)
        return "AccessDenied", "Access Denied"

    def _names_a_bucket(self, environ: dict[str, Any]) -> bool:
        first = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
        return bool(first) and first in set(self.buckets())

    def _verify(
        self,
        environ: dict[str, Any],
        credential: str,
        signed_headers: str,
        signature: str,
        timestamp: str,
        presigned: bool,
    ) -> tuple[str, str] | None:
        access_key, _date, region, _service_name, _terminal = credential.split("/")
        secret = self.secrets.get(access_key)
        if secret is None:
            return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
        headers = _request_headers(environ)
        try:
            signed = {name: headers[name] for name in signed_headers.split(";") if name}
        except KeyError:
            return _MISMATCH
        raw_path = environ.get("RAW_URI", environ.get("PATH_INFO", "/")).split("?", 1)[0]
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
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
)


def _service(credential: str) -> str:
    parts = credential.split("/")
    return parts[3] if len(parts) == 5 else ""


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items() if name.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").lower()] = environ[name]
    return headers
