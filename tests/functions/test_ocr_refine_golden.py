"""The golden set: 26 realistic receipts (en, de, el, fr) against the recorded model responses.

For every receipt and every primary-model scenario (a good answer, a low-confidence one, a
malformed one, a throttle), the refinement must reach the expected outcome, primary or
fallback, and store exactly the expected fields. Card numbers and membership ids must never
reach a model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import put_receipt
from tests.support.bedrock import HAIKU, SONNET, ScriptedBedrock, text_answer, unavailable

GOLDEN = json.loads((Path(__file__).parent.parent / "data" / "golden_receipts.json").read_text(encoding="utf-8"))
SCENARIOS = ("good", "lowConfidence", "malformed", "throttled")
CASES = [(receipt, scenario) for receipt in GOLDEN["receipts"] for scenario in SCENARIOS]
MEMBER_IDS = re.compile(r"(?:member|adherent)\s+([\d ]{6,})", re.IGNORECASE)


def recorded(response: dict[str, Any]) -> Any:
    """A recorded response as the Bedrock client would give it (or raise it)."""
    if response["kind"] == "error":
        return unavailable(response["code"])
    if response["kind"] == "text":
        return {**text_answer(response["text"]), "usage": response["usage"]}
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t", "name": "record_receipt", "input": response["input"]}}],
            }
        },
        "stopReason": "tool_use",
        "usage": response["usage"],
        "metrics": {"latencyMs": response["latencyMs"]},
    }


def test_the_golden_set_covers_every_language_and_kind():
    receipts = GOLDEN["receipts"]

    assert len(receipts) >= 25
    assert {receipt["language"] for receipt in receipts} == {"en", "de", "el", "fr"}
    assert {receipt["kind"] for receipt in receipts} >= {
        "grocery",
        "electronics",
        "restaurant",
        "fuel",
        "pharmacy",
        "noisy",
    }
    assert any(receipt["pages"] > 1 for receipt in receipts if receipt["kind"] == "pharmacy")
    assert any("warrantyMonths" in receipt["expected"] for receipt in receipts)
    assert any("tip" in receipt["expected"] for receipt in receipts)


@pytest.mark.parametrize(("receipt", "scenario"), CASES, ids=[f"{r['id']}-{s}" for r, s in CASES])
def test_each_golden_receipt_reaches_its_expected_outcome(refine_fn, table, receipt, scenario):
    stored = put_receipt(table, ocrRawText=receipt["ocrText"])
    bedrock = ScriptedBedrock(
        haiku=[recorded(receipt["responses"][scenario])], sonnet=[recorded(receipt["responses"]["fallback"])]
    )
    refine_fn.module.refinements.gateway.bedrock = bedrock

    response = refine_fn.call(
        "POST", "/receipts/{receiptId}/refine", path_parameters={"receiptId": stored["receiptId"]}, body={}
    )

    assert response.status == 200, response.body
    body, expected = response.body, receipt["expected"]
    decided_by = HAIKU if receipt["expectedOutcome"][scenario] == "primary" else SONNET
    assert body["refinement"]["model"] == decided_by
    assert bedrock.models == ([HAIKU] if decided_by == HAIKU else [HAIKU, SONNET])
    assert body["refinement"]["needsReview"] is False
    assert (body["storeName"], body["purchaseDate"], body["currency"], body["totalAmount"]) == (
        expected["merchant"],
        expected["date"],
        expected["currency"],
        expected["total"],
    )
    assert body.get("taxAmount") == expected.get("tax")
    assert body.get("warrantyMonths") == expected.get("warrantyMonths")
    assert [(item["description"], item["totalPrice"]) for item in body["items"]] == [
        (item["description"], item["totalPrice"]) for item in expected["items"]
    ]
    sent = json.dumps(bedrock.requests, ensure_ascii=False, default=str)
    assert "************" not in sent  # masked card numbers are normalised too
    for member_id in MEMBER_IDS.findall(receipt["ocrText"]):
        assert member_id.strip() not in sent
