"""A deterministic, rule-based receipt extractor: the local stand-in for an LLM or Textract.

It reads OCR text in English, German, Greek and French well enough for end-to-end local use:
the merchant, the date (day first, as in Europe), the total, the tax, the currency, the line
items, the payment method and a warranty period. The same text always gives the same result.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from receipt_vault.shapes import JsonObject

_AMOUNT = r"(-?\d{1,3}(?:[.,' ]\d{3})*(?:[.,]\d{2})|-?\d+(?:[.,]\d{2}))"
_AMOUNT_AT_END = re.compile(_AMOUNT + r"\s*(?:€|EUR|\$|USD|£|GBP|CHF)?\s*[A-Z]?$")
# Keywords are matched on text folded to lower case without accents (see _plain).
_TOTAL_WORDS = re.compile(r"\b(total|gesamt|summe|zu zahlen|betrag|συνολο|πληρωτεο|montant|a payer|ttc|amount due)\b")
_TAX_WORDS = re.compile(r"\b(vat|tax|mwst|ust|φπα|φ\.π\.α|tva)\b")
_SKIP_WORDS = re.compile(
    r"\b(subtotal|zwischensumme|change|ruckgeld|ρεστα|rendu|visa|mastercard|card|karte|cash|bar|μετρητα|"
    r"καρτα|especes|cb|tip|trinkgeld|pourboire|φιλοδωρημα)\b"
)
_DATES = (
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), ("y", "m", "d")),
    (re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{4})\b"), ("d", "m", "y")),
    (re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{2})\b"), ("d", "m", "yy")),
)
_CURRENCIES = (
    ("€", "EUR"),
    ("EUR", "EUR"),
    ("£", "GBP"),
    ("GBP", "GBP"),
    ("CHF", "CHF"),
    ("USD", "USD"),
    ("$", "USD"),
)
_PAYMENT = (
    (re.compile(r"\b(visa|mastercard|maestro|amex|card|karte|ec-karte|καρτα|carte|cb)\b"), "card"),
    (re.compile(r"\b(cash|bar|bargeld|μετρητα|especes)\b"), "cash"),
)
_WARRANTY = re.compile(
    r"(warranty|garantie|gewahrleistung|εγγυηση)\D{0,20}(\d{1,2})\s*"
    r"(months?|monate?|μηνες|mois|years?|jahre?|ετη|χρονια|ans?)"
)
_QUANTITY = re.compile(r"^(\d+(?:[.,]\d+)?)\s*[xX×]\s+")


def _plain(text: str) -> str:
    """Lower case without accents, so that ΚΑΡΤΑ matches κάρτα and à payer matches a payer."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


def parse_amount(text: str) -> Decimal | None:
    """`1.234,56`, `1,234.56`, `129.99`, `129,99` as a Decimal."""
    cleaned = text.replace(" ", "").replace("'", "")
    if "," in cleaned and "." in cleaned:
        cleaned = (
            cleaned.replace(".", "").replace(",", ".")
            if cleaned.rfind(",") > cleaned.rfind(".")
            else cleaned.replace(",", "")
        )
    elif "," in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return Decimal(cleaned).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _date(text: str) -> str | None:
    for pattern, order in _DATES:
        for match in pattern.finditer(text):
            parts = dict(zip(order, match.groups(), strict=True))
            year = int(parts["y"]) if "y" in parts else 2000 + int(parts["yy"])
            try:
                return dt.date(year, int(parts["m"]), int(parts["d"])).isoformat()
            except ValueError:
                continue
    return None


def _amount_at_end(line: str) -> Decimal | None:
    match = _AMOUNT_AT_END.search(line.strip())
    return parse_amount(match.group(1)) if match else None


def extract_receipt(ocr_text: str) -> JsonObject:
    """Structured fields, a confidence in 0..1 and a confidence per field."""
    lines = [line.strip() for line in ocr_text.splitlines() if line.strip()]
    plain = {line: _plain(line) for line in lines}
    result: JsonObject = {}
    field_confidence: dict[str, float] = {}

    merchant = next((line for line in lines if re.search(r"[A-Za-zΑ-Ωα-ωÄÖÜäöüéèàç]{3}", line)), None)
    if merchant:
        result["merchant"] = merchant.title() if merchant.isupper() else merchant
        field_confidence["merchant"] = 0.9

    date = _date(ocr_text)
    if date:
        result["date"] = date
        field_confidence["date"] = 0.9

    totals = [
        amount
        for line in lines
        if _TOTAL_WORDS.search(plain[line]) and not _TAX_WORDS.search(plain[line])
        if (amount := _amount_at_end(line)) is not None
    ]
    if totals:
        result["total"] = str(max(totals))
        field_confidence["total"] = 0.95

    taxes = [amount for line in lines if _TAX_WORDS.search(plain[line]) if (amount := _amount_at_end(line)) is not None]
    if taxes:
        result["tax"] = str(taxes[0])
        field_confidence["tax"] = 0.8

    upper = ocr_text.upper()
    currency = next((code for symbol, code in _CURRENCIES if symbol in upper), None)
    if currency:
        result["currency"] = currency
        field_confidence["currency"] = 0.9

    items = []
    for line in lines[1:]:
        folded = plain[line]
        if _TOTAL_WORDS.search(folded) or _TAX_WORDS.search(folded) or _SKIP_WORDS.search(folded) or _date(line):
            continue
        price = _amount_at_end(line)
        if price is None:
            continue
        description = _AMOUNT_AT_END.sub("", line).strip(" :.-€$£")
        quantity = Decimal(1)
        quantity_match = _QUANTITY.match(description)
        if quantity_match:
            quantity = parse_amount(quantity_match.group(1)) or Decimal(1)
            description = description[quantity_match.end() :]
        if re.search(r"[A-Za-zΑ-Ωα-ω]", description):
            unit = (price / quantity).quantize(Decimal("0.01")) if quantity else price
            items.append(
                {
                    "description": description,
                    "quantity": float(quantity),
                    "unitPrice": str(unit),
                    "totalPrice": str(price),
                }
            )
    if items:
        result["items"] = items
        field_confidence["items"] = 0.75

    folded_text = _plain(ocr_text)
    for pattern, method in _PAYMENT:
        if pattern.search(folded_text):
            result["paymentMethod"] = method
            field_confidence["paymentMethod"] = 0.85
            break

    warranty = _WARRANTY.search(folded_text)
    if warranty:
        length = int(warranty.group(2))
        is_years = warranty.group(3)[0] in "yjεχa"
        result["warrantyMonths"] = length * 12 if is_years else length
        field_confidence["warrantyMonths"] = 0.8

    core = ("merchant", "date", "total", "currency")
    found = sum(1 for name in core if name in result)
    result["confidence"] = round(0.35 + 0.15 * found, 2) if found else 0.2
    result["fieldConfidence"] = field_confidence
    return result
