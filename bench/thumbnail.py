"""Thumbnail of a 12 MP JPEG: the generator's reduced-scale decode against a naive full decode.

The naive baseline is what most code does: `Image.open`, a full decode, `thumbnail()`, save.
The generator asks the JPEG decoder for a reduced scale (`Image.draft`), so the 12 MP photo
never exists at full size. Each measurement runs in a fresh process: time is taken around the
work alone, and memory is the rise of the process's peak RSS (VmHWM, which unlike ru_maxrss
starts afresh at exec) over what it held before the work.
Runs alternate between the two paths; figures are medians.

Usage: python bench/thumbnail.py [--runs N] [--json PATH]. Exits 1 unless the generator is at
least 3x faster with at most a third of the peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGING_LAYER = ROOT / "src" / "layers" / "imaging"  # on the children's path: PYTHONPATH

CHILD = """
import io, json, time
from PIL import Image, ImageOps
import receipt_imaging as imaging
data = open({path!r}, "rb").read()
imaging._pillow()
Image.init()  # Pillow registers its format plugins once per process: outside the measurement, for both
def peak_kb():
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0])
before_kb = peak_kb()
started = time.perf_counter()
if {mode!r} == "generator":
    output = imaging.make_thumbnail(data, "jpg", 200, 300, 70)
else:
    image = Image.open(io.BytesIO(data))
    image.load()
    image = ImageOps.exif_transpose(image)
    image.thumbnail((200, 300))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=70)
    output = buffer.getvalue()
seconds = time.perf_counter() - started
added_kb = peak_kb() - before_kb
print(json.dumps({{"seconds": seconds, "peak_mb": added_kb / 1024, "bytes": len(output)}}))
"""


def make_photo(path: Path) -> None:
    """A 4000x3000 photo-like JPEG of about 3 MB, as a phone saves it: smooth gradients with
    sensor noise, quality 90."""
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((4000, 3000))
    radial = Image.radial_gradient("L").resize((4000, 3000))
    noise = Image.effect_noise((4000, 3000), 24)
    channels = (Image.blend(gradient, noise, 0.25), Image.blend(radial, noise, 0.2), Image.blend(gradient, radial, 0.5))
    Image.merge("RGB", channels).save(path, "JPEG", quality=90)


def measure(mode: str, path: Path) -> dict[str, float]:
    code = CHILD.format(path=str(path), mode=mode)
    environment = {**os.environ, "PYTHONPATH": str(IMAGING_LAYER)}
    output = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        photo = Path(directory) / "photo-12mp.jpg"
        make_photo(photo)
        samples: dict[str, list[dict[str, float]]] = {"generator": [], "naive": []}
        for _ in range(args.runs):
            for mode in samples:
                samples[mode].append(measure(mode, photo))
        size_mb = photo.stat().st_size / 1024 / 1024

    figures = {
        mode: {
            "ms": statistics.median(s["seconds"] for s in runs) * 1000,
            "peak_mb": statistics.median(s["peak_mb"] for s in runs),
        }
        for mode, runs in samples.items()
    }
    speedup = figures["naive"]["ms"] / figures["generator"]["ms"]
    memory_ratio = figures["generator"]["peak_mb"] / max(figures["naive"]["peak_mb"], 0.001)
    print(
        f"Thumbnail of a 4000x3000 JPEG ({size_mb:.1f} MB), median of {args.runs} fresh processes each, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores\n"
    )
    print("| path | time (ms) | peak memory added (MB) |")
    print("|---|---|---|")
    print(f"| naive: full decode + thumbnail() | {figures['naive']['ms']:.0f} | {figures['naive']['peak_mb']:.1f} |")
    print(
        f"| generator: reduced-scale decode | {figures['generator']['ms']:.0f} | "
        f"{figures['generator']['peak_mb']:.1f} |"
    )
    print(f"\nspeed-up: {speedup:.1f}x (at least 3x); memory: {memory_ratio:.2f} of the naive peak (at most 0.33)")
    if args.json:
        args.json.write_text(json.dumps({**figures, "speedup": speedup, "memory_ratio": memory_ratio}, indent=2))
    return 0 if speedup >= 3 and memory_ratio <= 1 / 3 else 1


if __name__ == "__main__":
    sys.exit(main())
