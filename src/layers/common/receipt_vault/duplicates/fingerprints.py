"""What makes two receipts the same one, as pure functions of a receipt and its images.

A receipt's fingerprints are lookup keys, so that candidates are found by key, never by reading
an account's receipts:
- `IMG#<sha256>` per original: the same file uploaded twice (a retried upload, a second phone);
- `CONTENT#<merchant>|<date>|<total>|<currency>`: the facts a person would compare;
- `TEXT<band>#<digest>` for each of TEXT_BANDS bands of a MinHash signature of `ocrRawText`'s
  character shingles (locality-sensitive hashing): texts that differ in a few characters (another
  OCR of a re-photographed receipt, the e-mailed copy) share a band with near certainty, texts of
  other receipts rarely, and `judge` then estimates the whole similarity from the signatures.

Each image also gets a 64-bit difference hash (dHash) of its normalised picture. It is kept and
reported as a reason, but it never makes a match alone: receipts of one layout (the same shop's
till roll) hash closer than two photos of one receipt (bench/duplicates.py measures this), so
the picture supports a match that the text or the facts make.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from receipt_vault.keys import normalize_text_key
from receipt_vault.shapes import DynamoItem

IMAGE_KEY_PREFIX = "IMG#"
CONTENT_KEY_PREFIX = "CONTENT#"
TEXT_KEY_PREFIX = "TEXT"
SHINGLE_CHARACTERS = 3
# A signature of TEXT_BANDS x ROWS_PER_BAND minimum hashes. Two texts share a band with
# probability 1 - (1 - J^ROWS_PER_BAND)^TEXT_BANDS for a shingle (Jaccard) similarity J:
# 0.9997 at J = 0.86 (a 3 % OCR error rate), 0.2 at J = 0.3 (another receipt of the same shop).
TEXT_BANDS = 8
ROWS_PER_BAND = 3
SIGNATURE_LENGTH = TEXT_BANDS * ROWS_PER_BAND
# Shorter texts (a total and a date) say too little to match on.
MIN_TEXT_CHARACTERS = 40
# Estimated similarities of the texts. Another OCR of the same receipt stays above SIMILAR_TEXT;
# with equal facts, a lower bound still tells a second purchase of the same amount at the same
# shop (other lines, another time) from the same receipt.
SIMILAR_TEXT = 0.7
SAME_FACTS_TEXT = 0.4
# dHash distances, in bits of 64: a re-photo stays within this, but so may another receipt.
SIMILAR_IMAGE_BITS = 10
_MERSENNE_PRIME = (1 << 61) - 1
_HASH_MASK = (1 << 32) - 1
_PERMUTATIONS = [
    (int.from_bytes(hashlib.sha256(f"a{index}".encode()).digest()[:8], "big") % _MERSENNE_PRIME | 1,
     int.from_bytes(hashlib.sha256(f"b{index}".encode()).digest()[:8], "big") % _MERSENNE_PRIME)
    for index in range(SIGNATURE_LENGTH)
]  # fmt: skip

Reason = str  # "same-image" | "same-content" | "similar-text" | "similar-image"

_NOT_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class ImageFingerprint:
    sha256: str
    dhash: str  # 16 hex digits


@dataclass(frozen=True)
class Fingerprints:
    """A receipt's fingerprints, small enough to be copied onto each of its lookup items, so that
    a candidate is judged without reading it."""

    images: tuple[ImageFingerprint, ...] = ()
    content_key: str | None = None
    text_signature: str | None = None  # SIGNATURE_LENGTH minimum hashes, 8 hex digits each
    # The facts a match must not contradict: purchaseDate, totalAmount, currency.
    facts: Mapping[str, str] = field(default_factory=dict)

    def lookup_keys(self) -> list[str]:
        found = [f"{IMAGE_KEY_PREFIX}{image.sha256}" for image in self.images]
        if self.content_key:
            found.append(f"{CONTENT_KEY_PREFIX}{self.content_key}")
        if self.text_signature:
            width = 8 * ROWS_PER_BAND
            for band in range(TEXT_BANDS):
                rows = self.text_signature[band * width : (band + 1) * width]
                found.append(f"{TEXT_KEY_PREFIX}{band}#{hashlib.blake2b(rows.encode(), digest_size=8).hexdigest()}")
        return list(dict.fromkeys(found))

    def as_item(self) -> DynamoItem:
        item: DynamoItem = {"facts": dict(self.facts)}
        if self.images:
            item["images"] = [{"sha256": image.sha256, "dhash": image.dhash} for image in self.images]
        if self.content_key:
            item["contentKey"] = self.content_key
        if self.text_signature:
            item["textSignature"] = self.text_signature
        return item

    @classmethod
    def from_item(cls, item: DynamoItem) -> Fingerprints:
        images = item.get("images") or []
        facts = item.get("facts") or {}
        return cls(
            images=tuple(ImageFingerprint(str(image["sha256"]), str(image["dhash"])) for image in images),
            content_key=str(item["contentKey"]) if item.get("contentKey") else None,
            text_signature=str(item["textSignature"]) if item.get("textSignature") else None,
            facts={str(name): str(value) for name, value in facts.items()},
        )


@dataclass(frozen=True)
class Verdict:
    score: float
    reasons: tuple[Reason, ...]


def normalise_text(text: str) -> str:
    """Accents, case, punctuation and spacing removed: what two OCRs of one receipt share."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(character for character in decomposed if not unicodedata.combining(character))
    return _NOT_WORD.sub(" ", plain.casefold()).strip()


def text_signature(text: str) -> str | None:
    """The MinHash signature of the normalised text's character shingles, as hex; None for a
    text too short to tell receipts apart."""
    normalised = normalise_text(text)
    if len(normalised) < MIN_TEXT_CHARACTERS:
        return None
    shingles = {
        int.from_bytes(hashlib.blake2b(normalised[start : start + SHINGLE_CHARACTERS].encode(), digest_size=8).digest())
        for start in range(len(normalised) - SHINGLE_CHARACTERS + 1)
    }
    minimums = (
        min(((a * shingle + b) % _MERSENNE_PRIME) & _HASH_MASK for shingle in shingles) for a, b in _PERMUTATIONS
    )
    return "".join(f"{value:08x}" for value in minimums)


def text_similarity(first: str, second: str) -> float:
    """The share of equal minimum hashes: an estimate of the texts' shingle similarity."""
    pairs = zip(
        (first[start : start + 8] for start in range(0, len(first), 8)),
        (second[start : start + 8] for start in range(0, len(second), 8)),
        strict=True,
    )
    return sum(mine == theirs for mine, theirs in pairs) / SIGNATURE_LENGTH


def hamming(first: str, second: str) -> int:
    return (int(first, 16) ^ int(second, 16)).bit_count()


def _amount(value: object) -> str | None:
    try:
        return format(Decimal(str(value)).normalize(), "f") if value is not None else None
    except InvalidOperation:
        return None


def facts_of(receipt: Mapping[str, object]) -> dict[str, str]:
    facts = {
        "purchaseDate": receipt.get("purchaseDate"),
        "totalAmount": _amount(receipt.get("totalAmount")),
        "currency": receipt.get("currency"),
    }
    return {name: str(value) for name, value in facts.items() if value}


def content_key(receipt: Mapping[str, object]) -> str | None:
    """Merchant, day, total and currency, normalised; None unless all four are known."""
    facts = facts_of(receipt)
    store = receipt.get("storeName")
    if not isinstance(store, str) or len(facts) < 3:
        return None
    merchant = normalize_text_key(normalise_text(store) or store)
    return f"{merchant}|{facts['purchaseDate']}|{facts['totalAmount']}|{facts['currency']}"


def of_receipt(receipt: Mapping[str, object], images: Iterable[ImageFingerprint] = ()) -> Fingerprints:
    text = receipt.get("ocrRawText")
    return Fingerprints(
        images=tuple(images),
        content_key=content_key(receipt),
        text_signature=text_signature(text) if isinstance(text, str) else None,
        facts=facts_of(receipt),
    )


def _misread(first: str, second: str) -> bool:
    """Two amounts of one length that differ in one digit: what an OCR misreading looks like."""
    return len(first) == len(second) and sum(a != b for a, b in zip(first, second, strict=True)) == 1


def judge(new: Fingerprints, other: Fingerprints) -> Verdict | None:
    """Whether two receipts are probably one, with a score from 0 to 1 and the reasons; None if
    not. The same file is always a duplicate. Otherwise a known date, total or currency that
    differs rules a match out (a total one digit off only unless the texts nearly agree: an OCR
    misreading), then the text or the facts decide."""
    if {image.sha256 for image in new.images} & {image.sha256 for image in other.images}:
        return Verdict(1.0, ("same-image",))
    differing = [name for name, value in new.facts.items() if other.facts.get(name, value) != value]
    similarity = (
        text_similarity(new.text_signature, other.text_signature)
        if new.text_signature and other.text_signature
        else None
    )
    misread_total = differing == ["totalAmount"] and _misread(new.facts["totalAmount"], other.facts["totalAmount"])
    if differing and not (misread_total and similarity is not None and similarity >= SIMILAR_TEXT):
        return None
    reasons: list[Reason] = []
    same_content = new.content_key is not None and new.content_key == other.content_key
    if same_content and (similarity is None or similarity >= SAME_FACTS_TEXT):
        reasons.append("same-content")
    if similarity is not None and similarity >= SIMILAR_TEXT:
        reasons.append("similar-text")
    if not reasons:
        return None
    image_distance = min(
        (hamming(mine.dhash, theirs.dhash) for mine in new.images for theirs in other.images), default=None
    )
    if image_distance is not None and image_distance <= SIMILAR_IMAGE_BITS:
        reasons.append("similar-image")
    score = 0.6 + 0.2 * ("same-content" in reasons) + 0.15 * ("similar-text" in reasons)
    score += 0.05 * ("similar-image" in reasons)
    return Verdict(round(min(score, 0.99), 2), tuple(reasons))


def exported(receipt: DynamoItem) -> DynamoItem | None:
    """What duplicate detection keeps about a receipt, for the user's export (GDPR access): its
    fingerprints as last examined, its images' digests, and the review's decisions. None when
    there is nothing."""
    view: DynamoItem = {}
    if receipt.get("duplicateFingerprints"):
        view["fingerprints"] = receipt["duplicateFingerprints"]
    if receipt.get("imageFingerprints"):
        view["imageDigests"] = receipt["imageFingerprints"]
    if receipt.get("duplicateResolutions"):
        view["reviewDecisions"] = sorted(receipt["duplicateResolutions"])
    return {"receiptId": receipt["receiptId"], **view} if view else None
