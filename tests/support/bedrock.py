"""A scripted stand-in for the Bedrock runtime client, and answers shaped as Converse's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError

from receipt_vault.clock import utc_now

HAIKU = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
TODAY = utc_now().date()
OCR = """MEDIA MARKT ATHENS
{date}
Headphones 129.99
VISA 4111 1111 1111 1111
Loyalty member 99887766
TOTAL EUR 129.99"""


def extraction(**overrides: Any) -> dict[str, Any]:
    answer = {
        "merchant": "MediaMarkt Athens",
        "date": (TODAY - dt.timedelta(days=2)).isoformat(),
        "currency": "EUR",
        "total": "129.99",
        "tax": "24.70",
        "paymentMethod": "card",
        "warrantyMonths": 24,
        "items": [{"description": "Headphones", "quantity": 1, "unitPrice": "129.99", "totalPrice": "129.99"}],
        "confidence": 0.92,
        "fieldConfidence": {"merchant": 0.95, "total": 0.99},
    }
    answer.update(overrides)
    return answer


def tool_answer(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": "record_receipt", "input": answer}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 600, "outputTokens": 180, "totalTokens": 780},
    }


def text_answer(text: str) -> dict[str, Any]:
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn"}


def unavailable(code: str = "ThrottlingException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "Converse")


class ScriptedBedrock:
    """Answers each model from its script, in order; records every request it gets."""

    def __init__(self, **scripts: list[Any]) -> None:
        self.scripts = {HAIKU: list(scripts.get("haiku", [])), SONNET: list(scripts.get("sonnet", []))}
        self.requests: list[dict[str, Any]] = []

    def converse(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        answer = self.scripts[request["modelId"]].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def models(self) -> list[str]:
        return [request["modelId"] for request in self.requests]
