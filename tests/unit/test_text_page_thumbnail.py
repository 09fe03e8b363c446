"""The thumbnail of a text-only receipt (an HTML e-mail): its first lines drawn on a white page,
the same kind of JPEG and difference hash as a photo's, whatever the text."""

from __future__ import annotations

import io
import re
import time

import pytest
from PIL import Image

import receipt_imaging
from receipt_vault.duplicates.fingerprints import hamming

RIDE = """Saturday, 14 November 2026

Thanks for riding, Maria

Trip fare €18.30
Airport surcharge €3.50
Booking fee €1.60
Total €23.40

Paid with Visa •••• 4242
22:21 Karl-Marx-Allee 34 → 22:48 Flughafen BER, Terminal 1, 12529 Schönefeld"""
GROCERIES = "ACME STORE\nReceipt 1043\n" + "\n".join(
    f"Item {index:02d} ........ {index * 1.15:6.2f}" for index in range(1, 30)
)
HEX_64 = re.compile(r"[0-9a-f]{16}")


def render(text: str, width: int = 200, height: int = 300, quality: int = 70) -> tuple[Image.Image, str]:
    data, picture_hash = receipt_imaging.text_page_thumbnail_and_dhash(text, width, height, quality)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    image.load()  # decodes whole
    assert HEX_64.fullmatch(picture_hash), picture_hash
    return image, picture_hash


def darkest(image: Image.Image) -> int:
    return min(image.convert("L").tobytes())


@pytest.mark.parametrize(("width", "height"), [(200, 300), (300, 200), (64, 64), (17, 333), (1, 1), (1200, 1600)])
def test_the_thumbnail_is_a_jpeg_of_exactly_the_size_asked(width: int, height: int) -> None:
    image, _ = render(RIDE, width, height)
    assert image.size == (width, height) and image.mode == "RGB"


def test_the_text_is_drawn_dark_on_white_from_the_top() -> None:
    image = render("Total €23.40\nPaid with Visa")[0].convert("L")
    top = image.crop((0, 0, image.width, image.height // 4))
    bottom = image.crop((0, image.height // 2, image.width, image.height))
    assert darkest(top) < 128  # ink where the first lines are
    assert darkest(bottom) > 240  # and white below two short lines
    assert max(image.tobytes()) > 245  # on a white page


@pytest.mark.parametrize("text", ["", " ", "\n\n\n", "\t \u200b\ufeff\r\n\x00\ud800"])
def test_empty_text_is_a_blank_page_not_an_error(text: str) -> None:
    image, picture_hash = render(text)
    assert darkest(image) > 245
    assert picture_hash == "0000000000000000"


def test_the_hash_is_the_dhash_of_the_page_it_shows() -> None:
    image, picture_hash = render(RIDE)
    assert hamming(picture_hash, receipt_imaging.dhash(image)) <= 6  # the JPEG's own loss aside


def test_the_same_text_gives_the_same_thumbnail_and_other_texts_other_hashes() -> None:
    assert receipt_imaging.text_page_thumbnail_and_dhash(RIDE, 200, 300, 70) == (
        receipt_imaging.text_page_thumbnail_and_dhash(RIDE, 200, 300, 70)
    )
    hashes = {render(text)[1] for text in (RIDE, GROCERIES, "TOTAL 54.30 EUR", "word " * 400)}
    assert len(hashes) == 4


def test_a_long_line_wraps_to_the_page_and_a_word_longer_than_a_line_breaks() -> None:
    one_line = render("Total")[0].convert("L")
    wrapped = render("Total " * 40)[0].convert("L")
    unbroken = render("X" * 400)[0].convert("L")

    def inked_rows(image: Image.Image) -> int:
        return len([row for row in range(image.height) if darkest(image.crop((0, row, image.width, row + 1))) < 160])

    assert inked_rows(wrapped) > 3 * inked_rows(one_line)
    assert inked_rows(unbroken) > 3 * inked_rows(one_line)
    right_margin = unbroken.crop((unbroken.width - 6, 0, unbroken.width, unbroken.height))
    assert darkest(right_margin) > 200  # nothing runs off the page


def test_very_long_text_is_quick() -> None:
    started = time.perf_counter()
    for text in ("word " * 1_000_000, "x" * 5_000_000, "line\n" * 1_000_000, "\u0301" * 1_000_000):
        render(text)
    assert time.perf_counter() - started < 20  # a few hundredths of a second each, here


@pytest.mark.parametrize(
    "text",
    [
        "Ελληνικά Schönefeld € ₹ ¥ £",
        "東京駅 领收据 영수증",
        "مرحبا בשלום \u202eevil\u202c",
        "😀👍🏽👨‍👩‍👧 🇬🇷",
        "e\u0301" * 5000,
        "lone \ud800 surrogate \udfff",
        "nul \x00 bell \x07 escape \x1b del \x7f c1 \x85\x9f",
        "\ufffd\ufeff\u200b\u200c\u200d\u2028\u2029",
        "\U0010ffff\U000e0001 private \ue000",
        "\t\ttabs\r\nand\rreturns\x0b\x0c",
        "a" * 10_000 + "\n" + "b " * 10_000,
    ],
)
def test_any_unicode_renders_without_raising(text: str) -> None:
    image, _ = render(text)
    assert image.size == (200, 300)
