"""Duplicate detection: precision and recall on a labelled set of photographed receipts.

Each receipt is rendered with Pillow, then "photographed again": rotated up to ±10°, scaled,
cropped up to 10 %, its brightness and contrast changed, and re-encoded as JPEG or converted to
HEIC. Every picture is read by tesseract, as a phone's OCR would read it, and its facts
(merchant, date, total, currency) are parsed from that reading, so a misread total costs recall
here as it would in the app. Hard negatives: the same store on the same day with another total,
and receipts of one layout (the same shop's till roll, other lines, days and totals).

Every capture then goes through the real pipeline (receipt_vault.duplicates.fingerprints): its
lookup keys find candidates among the captures before it, at most CANDIDATES_PER_KEY per key,
and `judge` decides. The same run scores two baselines: the exact bytes only (Paperless-ngx's
MD5) and the date with the amount only (Expensify's). It also scores the perceptual picture hash
alone, to show why a picture never makes a match by itself here.

Targets (issue 18): precision ≥ 0.98 and recall ≥ 0.90 on re-photos, 1.0 on exact copies.
Usage: python bench/duplicates.py [--receipts 30] [--seed 7] [--json PATH]; exit 1 on a miss.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src/layers/common"), str(ROOT / "src/layers/imaging")]

from PIL import Image, ImageDraw, ImageEnhance, ImageFont  # noqa: E402

import receipt_imaging  # noqa: E402
from receipt_vault.duplicates.fingerprints import (  # noqa: E402
    SIMILAR_IMAGE_BITS,
    Fingerprints,
    ImageFingerprint,
    hamming,
    judge,
    of_receipt,
)
from receipt_vault.duplicates.store import CANDIDATES_PER_KEY  # noqa: E402
from receipt_vault.receipts.models import CALENDAR_DATE  # noqa: E402

SHOPS = [
    ("MEDIAMARKT ATHENS", "Kifisias 37, Marousi"),
    ("LIDL HELLAS", "Syngrou 112, Athens"),
    ("PUBLIC STORES", "Karageorgi Servias 1"),
    ("KOTSOVOLOS", "Panepistimiou 20"),
    ("IKEA AIRPORT", "Attiki Odos, Spata"),
    ("SKLAVENITIS", "Patision 200"),
]
ITEMS = [
    "USB-C cable 2m", "Espresso beans 1kg", "LED bulb E27", "Kitchen scale", "HDMI adapter", "Desk lamp",
    "Olive oil 1L", "Feta PDO 400g", "Batteries AA x8", "Headphones", "Phone case", "Power bank 20000",
    "Coffee grinder", "Bath towel", "Notebook A5", "Water filter", "Toaster 2-slot", "Kettle 1.7L",
]  # fmt: skip
TARGETS = {"rephoto_precision": 0.98, "rephoto_recall": 0.90, "copy_recall": 1.0}


@dataclass
class Capture:
    """One picture of one paper receipt, as the backend would see it."""

    name: str
    paper: int  # which paper receipt it shows: captures of one paper are duplicates
    kind: str  # original | rephoto | copy | hard-negative
    data: bytes
    text: str
    facts: dict[str, str]
    fingerprints: Fingerprints


def receipt_lines(rng: random.Random, shop: tuple[str, str], day: int, items: list[tuple[str, str]]) -> list[str]:
    total = sum(float(price) for _, price in items)
    lines = [shop[0], shop[1], f"VAT EL{rng.randrange(10**8, 10**9)}", ""]
    lines += [f"{name:<22}{price:>9}" for name, price in items]
    lines += [
        "",
        f"TOTAL EUR{total:>22.2f}",
        f"CARD ****{rng.randrange(1000, 9999)}",
        f"{day:02d}/11/2026 {rng.randrange(8, 21):02d}:{rng.randrange(60):02d}",
    ]
    lines += [f"RECEIPT NO {rng.randrange(10**5, 10**6)}", "THANK YOU"]
    return lines


def render(lines: list[str]) -> Image.Image:
    font = ImageFont.load_default(size=26)
    paper = Image.new("RGB", (720, 80 + 40 * len(lines)), "white")
    draw = ImageDraw.Draw(paper)
    for row, line in enumerate(lines):
        draw.text((40, 40 + row * 40), line, fill="black", font=font)
    return paper


def photograph(paper: Image.Image, rng: random.Random) -> bytes:
    """Another photo of the same paper: angle, distance, framing, light and encoding all change."""
    shot = paper.rotate(rng.uniform(-10, 10), expand=True, fillcolor=(235, 235, 230), resample=Image.Resampling.BICUBIC)
    scale = rng.uniform(0.8, 1.4)
    shot = shot.resize((int(shot.width * scale), int(shot.height * scale)), Image.Resampling.LANCZOS)
    dx, dy = int(shot.width * rng.uniform(0, 0.05)), int(shot.height * rng.uniform(0, 0.05))
    shot = shot.crop((dx, dy, shot.width - int(shot.width * rng.uniform(0, 0.05)), shot.height - dy))
    shot = ImageEnhance.Brightness(shot).enhance(rng.uniform(0.8, 1.2))
    shot = ImageEnhance.Contrast(shot).enhance(rng.uniform(0.8, 1.2))
    output = io.BytesIO()
    if rng.random() < 0.3:
        import pillow_heif

        pillow_heif.register_heif_opener()
        shot.save(output, "HEIF", quality=80)
        return output.getvalue()
    shot.save(output, "JPEG", quality=rng.randrange(60, 92))
    return output.getvalue()


def encoded(image: Image.Image) -> bytes:
    output = io.BytesIO()
    image.save(output, "JPEG", quality=90)
    return output.getvalue()


def ocr(data: bytes) -> str:
    """tesseract's reading of the picture (as PNG: it reads neither HEIC nor every JPEG)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    png = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("L").save(png, "PNG")
    tesseract = shutil.which("tesseract") or "tesseract"
    run = subprocess.run(
        [tesseract, "stdin", "stdout", "--psm", "6"], input=png.getvalue(), capture_output=True, check=True
    )
    return run.stdout.decode("utf-8", "replace")


_TOTAL = re.compile(r"TOTAL\s*EUR\s*([0-9]+[.,][0-9]{2})", re.IGNORECASE)
_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")


def parsed_facts(text: str) -> dict[str, str]:
    """What a refinement would read from the text: the first line, the date, the total."""
    facts: dict[str, str] = {"currency": "EUR"}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        facts["storeName"] = lines[0]
    if total := _TOTAL.search(text):
        facts["totalAmount"] = total.group(1).replace(",", ".")
    if date := _DATE.search(text):
        day = f"{date.group(3)}-{date.group(2)}-{date.group(1)}"
        if re.fullmatch(CALENDAR_DATE, day):  # the API refuses a day that does not exist
            facts["purchaseDate"] = day
    return facts


def capture(name: str, paper: int, kind: str, data: bytes) -> Capture:
    text = ocr(data)
    facts = parsed_facts(text)
    extension = "heic" if data[4:12] in (b"ftypheic", b"ftypmif1") else "jpg"
    picture = ImageFingerprint(hashlib.sha256(data).hexdigest(), receipt_imaging.upright_dhash(data, extension))
    return Capture(name, paper, kind, data, text, facts, of_receipt({**facts, "ocrRawText": text}, [picture]))


def build_set(receipts: int, seed: int) -> list[Capture]:
    rng = random.Random(seed)
    captures: list[Capture] = []
    for paper in range(receipts):
        shop = SHOPS[paper % len(SHOPS)]
        day = 1 + paper % 28
        items = [(rng.choice(ITEMS), f"{rng.uniform(1, 120):.2f}") for _ in range(rng.randrange(2, 6))]
        original = render(receipt_lines(random.Random(seed * 1000 + paper), shop, day, items))
        first = encoded(original)
        captures.append(capture(f"r{paper}", paper, "original", first))
        captures.append(capture(f"r{paper}-photo", paper, "rephoto", photograph(original, rng)))
        if paper % 3 == 0:
            captures.append(capture(f"r{paper}-copy", paper, "copy", first))  # the same file again
        # Hard negatives, papers of their own: the same shop and day with another total, and
        # one more receipt of the same layout on another day.
        other_items = [*items[:-1], (rng.choice(ITEMS), f"{rng.uniform(1, 120):.2f}")]
        same_day = render(receipt_lines(random.Random(seed * 1000 + paper), shop, day, other_items))
        captures.append(capture(f"r{paper}-sameday", receipts + 2 * paper, "hard-negative", photograph(same_day, rng)))
        layout = render(
            receipt_lines(rng, shop, 1 + (day + 7) % 28, [(rng.choice(ITEMS), f"{rng.uniform(1, 120):.2f}")])
        )
        captures.append(capture(f"r{paper}-layout", receipts + 2 * paper + 1, "hard-negative", encoded(layout)))
    return captures


def detected_pairs(captures: list[Capture]) -> set[tuple[int, int]]:
    """The pipeline: each capture's lookup keys find earlier captures (bounded per key), then judge."""
    index: dict[str, list[int]] = defaultdict(list)
    pairs = set()
    for position, current in enumerate(captures):
        keys = current.fingerprints.lookup_keys()
        candidates = {other for key in keys for other in index[key][: CANDIDATES_PER_KEY + 1]}
        for other in candidates:
            if judge(current.fingerprints, captures[other].fingerprints) is not None:
                pairs.add((other, position))
        for key in keys:
            index[key].append(position)
    return pairs


def score(captures: list[Capture], flagged: set[tuple[int, int]]) -> dict[str, Any]:
    def truth(first: int, second: int) -> bool:
        return captures[first].paper == captures[second].paper

    results: dict[str, Any] = {}
    for kind in ("rephoto", "copy"):
        # A re-photo against its original; a copy against the file it copies.
        wanted = {
            (first, second)
            for second, current in enumerate(captures)
            if current.kind == kind
            for first in range(second)
            if truth(first, second) and captures[first].kind == "original"
        }
        found = wanted & flagged
        results[f"{kind}_recall"] = round(len(found) / len(wanted), 3) if wanted else 1.0
        results[f"{kind}_missed"] = [f"{captures[a].name} ~ {captures[b].name}" for a, b in sorted(wanted - flagged)]
    wrong = [pair for pair in flagged if not truth(*pair)]
    results["rephoto_precision"] = round(1 - len(wrong) / len(flagged), 3) if flagged else 1.0
    results["false_positives"] = [f"{captures[a].name} ~ {captures[b].name}" for a, b in sorted(wrong)]
    return results


def baseline(captures: list[Capture], same: Callable[[Capture, Capture], bool]) -> set[tuple[int, int]]:
    return {(a, b) for b in range(len(captures)) for a in range(b) if same(captures[a], captures[b])}


def same_bytes(first: Capture, second: Capture) -> bool:
    return first.fingerprints.images[0].sha256 == second.fingerprints.images[0].sha256


def same_date_and_amount(first: Capture, second: Capture) -> bool:
    wanted = ("purchaseDate", "totalAmount")
    return all(name in first.facts for name in wanted) and all(
        first.facts[name] == second.facts.get(name) for name in wanted
    )


def similar_pictures(first: Capture, second: Capture) -> bool:
    distance = hamming(first.fingerprints.images[0].dhash, second.fingerprints.images[0].dhash)
    return distance <= SIMILAR_IMAGE_BITS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not shutil.which("tesseract"):
        print("tesseract is missing: apt-get install tesseract-ocr", file=sys.stderr)
        return 2
    captures = build_set(args.receipts, args.seed)
    methods = {
        "fingerprints": detected_pairs(captures),
        "bytes only (Paperless-ngx)": baseline(captures, same_bytes),
        "date + amount only (Expensify)": baseline(captures, same_date_and_amount),
        "picture hash only": baseline(captures, similar_pictures),
    }
    report = {
        "receipts": args.receipts,
        "captures": len(captures),
        "methods": {name: score(captures, pairs) for name, pairs in methods.items()},
    }
    print(f"{len(captures)} captures of {args.receipts} receipts and their hard negatives")
    print(f"{'method':<32}{'precision':>10}{'recall (re-photo)':>19}{'recall (copy)':>15}")
    for name, result in report["methods"].items():
        print(f"{name:<32}{result['rephoto_precision']:>10}{result['rephoto_recall']:>19}{result['copy_recall']:>15}")
    for pair in report["methods"]["fingerprints"]["false_positives"]:
        print(f"  false positive: {pair}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    ours = report["methods"]["fingerprints"]
    missed = [name for name, target in TARGETS.items() if ours[name] < target]
    if missed:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
