"""Stand-in endpoints for the services moto does not emulate: Bedrock runtime and Textract.

Functions reach them through AWS_ENDPOINT_URL_BEDROCK_RUNTIME and AWS_ENDPOINT_URL_TEXTRACT, so
the real boto3 code path runs, request signing and serialisation included. Answers follow the
real response shapes and come from the rule-based extractor, so they are deterministic and
schema-valid. Every request is kept (the last 200) for inspection at `GET /_requests`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import cast
from urllib.parse import unquote

import pypdfium2

from local.clock import iso_timestamp, utc_now
from local.extraction import extract_receipt
from local.servers import LocalHttpServer
from receipt_vault.shapes import JsonObject

_MODEL_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<action>converse|invoke)$")
_TEXTRACT_FIELDS = (
    ("merchant", "VENDOR_NAME"),
    ("date", "INVOICE_RECEIPT_DATE"),
    ("total", "TOTAL"),
    ("tax", "TAX"),
)


def _prompt_text(messages: list[JsonObject]) -> str:
    """All text the caller sent, from Converse or Anthropic-style messages."""
    texts = []
    for message in messages:
        content = message.get("content", [])
        if isinstance(content, str):
            texts.append(content)
            continue
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                texts.append(block["text"])
    return "\n".join(texts)


def _ocr_section(prompt: str) -> str:
    """The OCR text inside the prompt, when the caller fenced it; else the whole prompt."""
    fenced = re.search(r"<ocr_text>(.*?)</ocr_text>", prompt, re.DOTALL)
    return fenced.group(1) if fenced else prompt


def _usage(prompt: str, output: str) -> dict[str, int]:
    inputs, outputs = max(1, len(prompt) // 4), max(1, len(output) // 4)  # about 4 characters a token
    return {"inputTokens": inputs, "outputTokens": outputs, "totalTokens": inputs + outputs}


def converse(request: JsonObject) -> JsonObject:
    prompt = _prompt_text(request.get("messages", []))
    extraction = extract_receipt(_ocr_section(prompt))
    output = json.dumps(extraction)
    tools = request.get("toolConfig", {}).get("tools", [])
    if tools:
        name = request["toolConfig"].get("toolChoice", {}).get("tool", {}).get("name") or tools[0]["toolSpec"]["name"]
        content: list[JsonObject] = [
            {"toolUse": {"toolUseId": f"tooluse_{uuid.uuid4().hex[:20]}", "name": name, "input": extraction}}
        ]
        stop_reason = "tool_use"
    else:
        content, stop_reason = [{"text": output}], "end_turn"
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": _usage(prompt, output),
        "metrics": {"latencyMs": 5},
    }


def invoke_model(request: JsonObject) -> JsonObject:
    """Anthropic messages format, as InvokeModel carries it."""
    prompt = _prompt_text(request.get("messages", []))
    extraction = extract_receipt(_ocr_section(prompt))
    output = json.dumps(extraction)
    usage = _usage(prompt, output)
    tools = request.get("tools", [])
    content: list[JsonObject] = (
        [
            {
                "type": "tool_use",
                "id": f"toolu_{uuid.uuid4().hex[:20]}",
                "name": tools[0]["name"],
                "input": extraction,
            }
        ]
        if tools
        else [{"type": "text", "text": output}]
    )
    return {
        "id": f"msg_{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": "tool_use" if tools else "end_turn",
        "usage": {"input_tokens": usage["inputTokens"], "output_tokens": usage["outputTokens"]},
    }


# PDFium is not thread-safe, not even across documents, and the stand-in server answers each
# connection on its own thread: one PDFium call at a time.
_PDFIUM_LOCK = threading.Lock()


def _pdf_text(document: bytes) -> str:
    """The text of every page, pages joined by newlines; "" for a PDF that PDFium cannot read."""
    with _PDFIUM_LOCK:
        try:
            pdf = pypdfium2.PdfDocument(document)
        except pypdfium2.PdfiumError:
            return ""
        try:
            pages: list[str] = []
            for index in range(len(pdf)):
                page = pdf[index]
                try:
                    textpage = page.get_textpage()
                    try:
                        pages.append(str(textpage.get_text_range()))
                    finally:
                        textpage.close()
                finally:
                    page.close()
        except pypdfium2.PdfiumError:  # a page that does not load: the document is corrupt
            return ""
        finally:
            pdf.close()  # here, under the lock, not whenever the garbage collector gets to it
    return "\n".join(pages).replace("\r\n", "\n").replace("\r", "\n")


def analyze_expense(document_bytes: bytes) -> JsonObject:
    """AnalyzeExpense for a document whose text can be read: a PDF's text layer (all pages), or
    bytes that are UTF-8 text. An image without text, or a corrupt PDF, gives an empty but
    well-formed result, as Textract does for a blank page."""
    if document_bytes.startswith(b"%PDF-"):
        text = _pdf_text(document_bytes)
    else:
        try:
            text = document_bytes.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
    extraction = extract_receipt(text) if text.strip() else {}

    def field(kind: str, value: str) -> JsonObject:
        return {
            "Type": {"Text": kind, "Confidence": 95.0},
            "ValueDetection": {"Text": value, "Confidence": 90.0},
            "PageNumber": 1,
        }

    summary = [field(kind, str(extraction[name])) for name, kind in _TEXTRACT_FIELDS if name in extraction]
    line_items = [
        {
            "LineItemExpenseFields": [
                field("ITEM", item["description"]),
                field("PRICE", item["totalPrice"]),
                field("QUANTITY", str(item["quantity"])),
            ]
        }
        for item in extraction.get("items", [])
    ]
    return {
        "DocumentMetadata": {"Pages": 1},
        "ExpenseDocuments": [
            {
                "ExpenseIndex": 1,
                "SummaryFields": summary,
                "LineItemGroups": [{"LineItemGroupIndex": 1, "LineItems": line_items}] if line_items else [],
                "Blocks": [{"BlockType": "LINE", "Text": line} for line in text.splitlines() if line.strip()],
            }
        ],
    }


class StandInServer:
    def __init__(self, read_s3_object: Callable[[str, str], bytes], host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: list[JsonObject] = []
        self._read_s3_object = read_s3_object
        self._server = LocalHttpServer((host, port), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self._server.server_address[:2])  # an AF_INET(6) server
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, service: str, target: str, request: JsonObject) -> None:
        self.requests.append({"service": service, "target": target, "at": iso_timestamp(utc_now()), "request": request})
        del self.requests[:-200]

    def answer(self, path: str, target: str | None, request: JsonObject) -> tuple[int, JsonObject]:
        route = _MODEL_ROUTE.match(unquote(path))
        if route:
            self._record("bedrock-runtime", route["model"], request)
            return 200, converse(request) if route["action"] == "converse" else invoke_model(request)
        if target == "Textract.AnalyzeExpense":
            self._record("textract", target, request)
            document = request.get("Document", {})
            if "Bytes" in document:
                content = base64.b64decode(document["Bytes"])
            else:
                location = document.get("S3Object", {})
                content = self._read_s3_object(location.get("Bucket"), location.get("Name"))
            return 200, analyze_expense(content)
        return 404, {"message": f"the local stand-ins do not serve {target or path}"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                    status, body = server.answer(self.path, self.headers.get("X-Amz-Target"), request)
                except Exception as error:  # a stand-in failure must be visible, not a hang
                    status, body = 500, {"message": f"stand-in error: {error!r}"}
                self._send(status, body)

            def do_GET(self) -> None:
                if self.path == "/_requests":
                    self._send(200, {"requests": server.requests})
                else:
                    self._send(404, {"message": "not found"})

            def _send(self, status: int, body: JsonObject) -> None:
                payload = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: object) -> None:
                pass

        return Handler
