"""Cost and latency of OCR refinement per receipt, from the golden set's recorded token counts.

Three paths: Haiku alone, Haiku then the Sonnet fallback, and Textract first (no OCR text) then
Haiku. Prices are Bedrock on-demand prices in USD per million tokens (EU cross-region inference
profiles cost the same as in-region), and Textract AnalyzeExpense per page; change them here.
The golden set's responses are constructed fixtures whose token counts are estimated from the
text lengths (see tests/data/golden_receipts.json), so these are estimates, not invoices.

Usage: python bench/refine_cost.py [--fallback-rate 0.05]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "data" / "golden_receipts.json"
PRICES = {  # USD per million tokens: (input, output)
    "haiku-4.5": (1.00, 5.00),
    "sonnet-4.5": (3.00, 15.00),
}
TEXTRACT_EXPENSE_PER_PAGE = 0.01
SPEC_COST_PER_RECEIPT = 0.004


def cost(usage: dict[str, int], model: str) -> float:
    price_in, price_out = PRICES[model]
    return (usage["inputTokens"] * price_in + usage["outputTokens"] * price_out) / 1_000_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fallback-rate", type=float, default=0.05, help="share of receipts that fall back")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    receipts = json.loads(GOLDEN.read_text(encoding="utf-8"))["receipts"]

    haiku = [cost(r["responses"]["good"]["usage"], "haiku-4.5") for r in receipts]
    fallback = [
        cost(r["responses"]["lowConfidence"]["usage"], "haiku-4.5")
        + cost(r["responses"]["fallback"]["usage"], "sonnet-4.5")
        for r in receipts
    ]
    textract = [h + r["pages"] * TEXTRACT_EXPENSE_PER_PAGE for h, r in zip(haiku, receipts, strict=True)]
    haiku_ms = [r["responses"]["good"]["latencyMs"] for r in receipts]
    fallback_ms = [
        r["responses"]["lowConfidence"]["latencyMs"] + r["responses"]["fallback"]["latencyMs"] for r in receipts
    ]
    tokens_in = statistics.mean(r["responses"]["good"]["usage"]["inputTokens"] for r in receipts)
    tokens_out = statistics.mean(r["responses"]["good"]["usage"]["outputTokens"] for r in receipts)
    blended = (1 - args.fallback_rate) * statistics.mean(haiku) + args.fallback_rate * statistics.mean(fallback)

    print(
        f"OCR refinement per receipt, {len(receipts)} golden receipts, mean {tokens_in:.0f} input and "
        f"{tokens_out:.0f} output tokens\n"
    )
    print("| path | cost per receipt (USD) | latency (model time, ms) |")
    print("|---|---|---|")
    print(f"| Haiku 4.5 only | {statistics.mean(haiku):.4f} | {statistics.median(haiku_ms):.0f} |")
    print(
        f"| Haiku, then Sonnet 4.5 fallback | {statistics.mean(fallback):.4f} | {statistics.median(fallback_ms):.0f} |"
    )
    print(
        f"| Textract AnalyzeExpense, then Haiku | {statistics.mean(textract):.4f} | "
        f"{statistics.median(haiku_ms):.0f} + Textract |"
    )
    print(f"| blended, {args.fallback_rate:.0%} fallback | {blended:.4f} | |")
    print(
        f"\nThe spec's figure is about ${SPEC_COST_PER_RECEIPT} per receipt; the blended estimate is "
        f"{blended / SPEC_COST_PER_RECEIPT:.2f} of it."
    )
    if args.json:
        figures = {
            "haiku_usd": statistics.mean(haiku),
            "fallback_usd": statistics.mean(fallback),
            "textract_usd": statistics.mean(textract),
            "blended_usd": blended,
            "spec_usd": SPEC_COST_PER_RECEIPT,
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
