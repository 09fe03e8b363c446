"""The patterns the models declare and api/openapi.yaml repeats, against the rules they spell out:
every code point for the text classes (plain_text and the models' trim), every day for the
calendars (datetime). A pattern is read as API Gateway's model reads it, the whole value, and as
the models' Text kind applies it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from receipt_vault.model_base import ONE_LINE, ONE_LINE_NOT_BLANK, SEVERAL_LINES, plain_text
from receipt_vault.receipts.models import CALENDAR_DATE, EXPIRY_DATE, ExtendedWarranty
from receipt_vault.receipts.rules import add_months
from receipt_vault.validation import Text, ValidationError

# Unicode White_Space: what ONE_LINE_NOT_BLANK's "not blank" means, and what the trim removes.
WHITE_SPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)
}
SURROGATES = range(0xD800, 0xE000)
# Every character of the BMP, where each class's ranges lie, and a sample of the other planes.
CODE_POINTS = [code for code in (*range(0x10000), *range(0x10000, 0x110000, 251), 0x10FFFF) if code not in SURROGATES]


def _refused(text: str, multiline: bool) -> bool:
    try:
        plain_text(text, multiline)
    except ValueError:
        return True
    return False


def _samples(character: str) -> tuple[str, ...]:
    return (character, f"a{character}", f" {character} ")


@pytest.mark.parametrize(
    ("name", "pattern", "multiline", "not_blank"),
    [
        ("one line", ONE_LINE, False, False),
        ("one line, not blank", ONE_LINE_NOT_BLANK, False, True),
        ("several lines", SEVERAL_LINES, True, False),
    ],
)
def test_each_text_pattern_takes_exactly_what_plain_text_and_the_trim_let_through(name, pattern, multiline, not_blank):
    compiled = re.compile(pattern)
    disagreements = []
    for code in CODE_POINTS:  # no pattern names a lone surrogate; plain_text and the JSON parser refuse it
        for text in _samples(chr(code)):
            allowed = not _refused(text, multiline) and (not not_blank or any(c not in WHITE_SPACE for c in text))
            if bool(compiled.fullmatch(text)) != allowed:
                disagreements.append(text)
    assert disagreements == [], f"{name}: {disagreements[:5]}"


def _as_a_trimmed_field(text: str) -> str | None:
    """The text as a trimmed field (an extended warranty's provider) keeps it, or None if refused."""
    try:
        return ExtendedWarranty.model_validate({"provider": text, "months": 1}, strict=True).provider
    except ValidationError:
        return None


def test_the_trim_after_the_checks_removes_exactly_the_white_space():
    """A trimmed field checks the text as sent, then trims it with str.strip: what that removes
    around a word is Unicode White_Space. What it refuses, ONE_LINE refuses too."""
    for code in CODE_POINTS:
        text = f"{chr(code)}a{chr(code)}"
        trimmed = _as_a_trimmed_field(text)
        if trimmed is None:
            assert not re.fullmatch(ONE_LINE, text), hex(code)
        else:
            assert (trimmed == "a") == (chr(code) in WHITE_SPACE), hex(code)


@pytest.mark.parametrize(("pattern", "first", "last"), [(CALENDAR_DATE, 1900, 2199), (EXPIRY_DATE, 1900, 2249)])
def test_each_calendar_pattern_takes_exactly_the_days_of_its_years(pattern, first, last):
    compiled = Text(pattern=pattern).matcher()  # as the models apply it: the whole text
    disagreements = []
    for year in (*range(first - 3, first + 3), *range(1996, 2005), *range(2096, 2105), *range(last - 3, last + 3)):
        for month in range(0, 14):
            for day in range(0, 33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    valid = first <= dt.date(year, month, day).year <= last
                except ValueError:
                    valid = False
                if bool(compiled.search(text)) != valid:
                    disagreements.append(text)
    assert disagreements == []
    for text in ("0000-00-00", "2024-2-01", "20240201", "2024-02-01T00:00:00Z", "２０２４-02-01", "2024-02-01\n"):
        assert not compiled.search(text), text


def test_a_warranty_of_the_latest_purchase_ends_inside_the_expiry_calendar():
    latest = add_months(dt.date(2199, 12, 31), 600)

    assert latest == dt.date(2249, 12, 31) and re.fullmatch(EXPIRY_DATE, latest.isoformat())
    assert not re.fullmatch(EXPIRY_DATE, (latest + dt.timedelta(days=1)).isoformat())
