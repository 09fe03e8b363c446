"""Duplicate fingerprints, pure: what makes two receipts one, and what must never."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageEnhance

import receipt_imaging
from receipt_vault.duplicates.fingerprints import (
    MIN_TEXT_CHARACTERS,
    SIMILAR_IMAGE_BITS,
    Fingerprints,
    ImageFingerprint,
    content_key,
    hamming,
    judge,
    of_receipt,
    text_signature,
    text_similarity,
)

TEXT = """MEDIAMARKT ATHENS
Kifisias 37, 15123 Marousi
VAT EL094014201
Samsung Galaxy Buds2 Pro      129.99
Subtotal                      105.29
VAT 24%                        24.70
TOTAL EUR                     129.99
VISA ****4821   22/11/2026 14:32
Thank you for shopping with us"""

RECEIPT = {
    "receiptId": "7d3e8f8a-37a4-4a4e-9d5e-0f7c7b8f4b11",
    "storeName": "MediaMarkt Athens",
    "purchaseDate": "2026-11-22",
    "totalAmount": "129.99",
    "currency": "EUR",
    "ocrRawText": TEXT,
}


def ocr_noise(text: str, rate: float, seed: int) -> str:
    """What another OCR of the same paper gives: a few characters misread, dropped or doubled."""
    rng = random.Random(seed)
    confusions = {"0": "O", "O": "0", "1": "l", "l": "1", "5": "S", "8": "B", "e": "c", ".": ","}
    out = []
    for character in text:
        roll = rng.random()
        if roll < rate / 3:
            out.append(confusions.get(character, character.upper()))
        elif roll < 2 * rate / 3:
            continue
        elif roll < rate:
            out.append(character * 2)
        else:
            out.append(character)
    return "".join(out)


def test_another_ocr_of_the_same_receipt_is_similar_text():
    original = of_receipt(RECEIPT)
    for seed in range(20):
        again = of_receipt({**RECEIPT, "ocrRawText": ocr_noise(TEXT, 0.02, seed), "storeName": None})
        verdict = judge(again, original)
        assert verdict is not None and "similar-text" in verdict.reasons, seed


def test_a_noisier_ocr_with_the_same_facts_is_the_same_content():
    original = of_receipt(RECEIPT)
    for seed in range(20):
        verdict = judge(of_receipt({**RECEIPT, "ocrRawText": ocr_noise(TEXT, 0.06, seed)}), original)
        assert verdict is not None and "same-content" in verdict.reasons, seed


def test_the_same_facts_with_a_text_in_other_case_accents_and_spacing_match():
    email = {**RECEIPT, "ocrRawText": "  ".join(TEXT.lower().split()).replace("e", "é")}
    verdict = judge(of_receipt(email), of_receipt(RECEIPT))
    assert verdict is not None and verdict.reasons[:2] == ("same-content", "similar-text")


def test_the_same_store_and_day_with_another_total_is_never_a_duplicate():
    other = {**RECEIPT, "totalAmount": "12.50", "ocrRawText": TEXT.replace("129.99", "12.50")}
    assert judge(of_receipt(other), of_receipt(RECEIPT)) is None


def test_a_contradicting_date_or_currency_rules_out_even_the_same_text():
    assert judge(of_receipt({**RECEIPT, "purchaseDate": "2026-11-23"}), of_receipt(RECEIPT)) is None
    assert judge(of_receipt({**RECEIPT, "currency": "USD"}), of_receipt(RECEIPT)) is None


def test_another_purchase_of_the_same_price_at_the_same_till_is_not_one():
    """The facts agree, but most lines do not: another receipt, not another reading."""
    second = TEXT.replace("Samsung Galaxy Buds2 Pro", "Logitech MX Master 3S ").replace("14:32", "18:05")
    second = second.replace("****4821", "****0093").replace("Kifisias 37, 15123 Marousi", "Syntagma 3, 10563 Athens")
    second = second.replace("Thank you for shopping with us", "Returns within 15 days with receipt")
    assert text_similarity(text_signature(second), text_signature(TEXT)) < 0.4
    verdict = judge(of_receipt({**RECEIPT, "ocrRawText": second}), of_receipt(RECEIPT))
    assert verdict is None


def test_two_receipts_of_one_layout_on_other_days_are_not_one():
    other_day = TEXT.replace("22/11/2026 14:32", "29/11/2026 10:05").replace("129.99", "89.00")
    other_day = other_day.replace("Samsung Galaxy Buds2 Pro", "Anker PowerCore 20000 ")
    other = {**RECEIPT, "purchaseDate": "2026-11-29", "totalAmount": "89.00", "ocrRawText": other_day}
    assert judge(of_receipt(other), of_receipt(RECEIPT)) is None
    assert judge(of_receipt({**other, "purchaseDate": None, "totalAmount": None}), of_receipt(RECEIPT)) is None


def test_the_same_file_is_a_duplicate_whatever_the_fields_say():
    image = ImageFingerprint("ab" * 32, "0" * 16)
    first = of_receipt({"receiptId": "a"}, [image])
    second = of_receipt({**RECEIPT, "totalAmount": "1.00"}, [image])
    verdict = judge(second, first)
    assert verdict is not None and verdict.reasons == ("same-image",) and verdict.score == 1.0


def test_a_similar_picture_alone_is_never_a_match():
    picture = ImageFingerprint("aa" * 32, "f0f0f0f0f0f0f0f0")
    alike = ImageFingerprint("bb" * 32, "f0f0f0f0f0f0f0f1")
    assert judge(of_receipt({}, [picture]), of_receipt({}, [alike])) is None


def test_lookup_keys_cover_images_content_and_four_text_bands_once_each():
    image = ImageFingerprint("cd" * 32, "1" * 16)
    keys = of_receipt(RECEIPT, [image, image]).lookup_keys()
    assert keys[0] == f"IMG#{'cd' * 32}"
    assert keys[1] == "CONTENT#mediamarkt athens|2026-11-22|129.99|EUR"
    assert [key.split("#")[0] for key in keys[2:]] == [f"TEXT{band}" for band in range(8)]
    assert len(keys) == len(set(keys)) == 10


def test_a_near_text_shares_a_band_so_a_lookup_finds_it():
    for seed in range(20):
        near = of_receipt({"ocrRawText": ocr_noise(TEXT, 0.03, seed)}).lookup_keys()
        assert set(near) & set(of_receipt({"ocrRawText": TEXT}).lookup_keys()), seed


def test_the_signature_is_the_same_on_every_run_and_machine():
    """Stored signatures are compared with new ones: the hash must not depend on the process."""
    assert text_signature(TEXT)[:16] == "056025ec011e5575"  # what every stored signature was made with
    assert text_signature(TEXT) == text_signature(TEXT.upper()) == text_signature("  " + TEXT)


def test_the_content_key_is_the_same_for_the_same_facts_spelled_otherwise():
    assert content_key({**RECEIPT, "storeName": "  MEDIAMARKT   athens ", "totalAmount": "129.990"}) == content_key(
        RECEIPT
    )
    assert content_key({**RECEIPT, "currency": None}) is None  # all four, or no key


def test_a_long_non_ascii_store_name_gives_a_bounded_key():
    key = content_key({**RECEIPT, "storeName": "é" * 171 + "x" * 29})
    assert key is not None and len(key.encode()) < 400


def test_short_texts_have_no_text_fingerprint():
    assert text_signature("TOTAL 9.99") is None
    assert text_signature("x" * MIN_TEXT_CHARACTERS) is not None


def test_fingerprints_survive_the_trip_through_an_item():
    prints = of_receipt(RECEIPT, [ImageFingerprint("ef" * 32, "0123456789abcdef")])
    assert Fingerprints.from_item(prints.as_item()) == prints


# -- the perceptual hash of the imaging layer ----------------------------------------------------


def receipt_picture(lines: list[str]) -> Image.Image:
    image = Image.new("RGB", (600, 900), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((40, 40 + row * 36), line, fill="black")
    draw.rectangle((30, 30, 570, 870), outline="black", width=4)
    return image


def encoded(image: Image.Image, quality: int = 90) -> bytes:
    output = io.BytesIO()
    image.save(output, "JPEG", quality=quality)
    return output.getvalue()


def test_a_rephotographed_picture_keeps_a_close_dhash():
    original = receipt_picture(TEXT.splitlines())
    again = ImageEnhance.Brightness(original.rotate(3, expand=False, fillcolor="white")).enhance(1.15)
    again = again.crop((12, 18, 590, 885)).resize((900, 1350))
    first = receipt_imaging.upright_dhash(encoded(original), "jpg")
    second = receipt_imaging.upright_dhash(encoded(again, quality=60), "jpg")
    assert len(first) == 16 and hamming(first, second) <= SIMILAR_IMAGE_BITS


def test_the_thumbnail_and_the_dhash_come_from_one_decode_and_agree():
    data = encoded(receipt_picture(TEXT.splitlines()))
    thumbnail, picture_hash = receipt_imaging.thumbnail_and_dhash(data, "jpg", 200, 300, 70)
    assert thumbnail.startswith(b"\xff\xd8")
    assert hamming(picture_hash, receipt_imaging.upright_dhash(data, "jpg")) <= 4  # decoded at other scales


def test_a_total_misread_by_one_digit_still_matches_a_nearly_equal_text():
    """tesseract reads 292.78 as 792.78 on one of two photos: the texts tell it is one receipt."""
    misread = {**RECEIPT, "totalAmount": "729.99", "ocrRawText": TEXT.replace("129.99", "729.99")}
    verdict = judge(of_receipt(misread), of_receipt(RECEIPT))
    assert verdict is not None and verdict.reasons == ("similar-text",)


def test_a_total_one_digit_off_on_another_text_is_another_receipt():
    other_text = TEXT.replace("Samsung Galaxy Buds2 Pro", "Sony WH-1000XM5 case   ").replace("14:32", "17:48")
    other_text = other_text.replace("****4821", "****3307").replace("Thank you for shopping with us", "No returns")
    other = {**RECEIPT, "totalAmount": "139.99", "ocrRawText": other_text.replace("129.99", "139.99")}
    assert judge(of_receipt(other), of_receipt(RECEIPT)) is None
    assert judge(of_receipt({**RECEIPT, "totalAmount": "729.99", "ocrRawText": None}), of_receipt(RECEIPT)) is None
