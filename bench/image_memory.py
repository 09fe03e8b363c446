"""Peak memory of a hostile upload: a 10000 x 10000 JPEG against a 12 MP photo, in the same run.

A uniform 10000 x 10000 JPEG is about 1.5 MB, within the upload limits, and 300 MB once decoded
at full size. Refinement (the picture for the model, `fit_within`) and the thumbnail generator
(`make_thumbnail`) both decode through the imaging layer (src/layers/imaging/receipt_imaging.py),
a JPEG at the reduced scale that just covers the target. Each figure is the median, over fresh
processes, of the peak RSS the work adds.

The limit: no upload costs more than 1.5x what a 12 MP phone photo costs refinement, the
reference for both paths. For refinement that is the 10000 x 10000 file against the 12 MP
photo. The thumbnail generator decodes a 12 MP photo at 1/8 (2 MB of peak); 1/8 is the smallest
scale a JPEG decoder offers, so a 10000 x 10000 file decodes at 1250 x 1250, several times
that, and its check is against the same reference.

Usage: python bench/image_memory.py [--runs N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 1.5
MAX_IMAGE_EDGE = 1568  # refinement's, as src/ocr_refine/refine_service.py sends it

CHILD = """
import json, time
import receipt_imaging
from PIL import Image
receipt_imaging._pillow()
Image.init()
data = open({path!r}, "rb").read()
def peak_kb():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
before = peak_kb()
started = time.perf_counter()
if {path_kind!r} == "refinement":
    receipt_imaging.fit_within(data, "jpg", {edge})
else:
    receipt_imaging.make_thumbnail(data, "jpg", 200, 300, 70)
print(json.dumps({{"peak_mb": (peak_kb() - before) / 1024, "ms": (time.perf_counter() - started) * 1000}}))
"""


def make_photo(path: Path) -> None:
    """4000 x 3000, photo-like: gradients with sensor noise, quality 90 (about 3 MB)."""
    gradient = Image.linear_gradient("L").resize((4000, 3000))
    radial = Image.radial_gradient("L").resize((4000, 3000))
    noise = Image.effect_noise((4000, 3000), 24)
    channels = (Image.blend(gradient, noise, 0.25), Image.blend(radial, noise, 0.2), Image.blend(gradient, radial, 0.5))
    Image.merge("RGB", channels).save(path, "JPEG", quality=90)


def make_huge(path: Path) -> None:
    Image.new("RGB", (10_000, 10_000), (200, 180, 160)).save(path, "JPEG", quality=85)


def measure(path_kind: str, image: Path) -> dict[str, float]:
    code = CHILD.format(path=str(image), path_kind=path_kind, edge=MAX_IMAGE_EDGE)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        photo, huge = Path(directory) / "photo-12mp.jpg", Path(directory) / "uniform-10000.jpg"
        make_photo(photo)
        make_huge(huge)
        sizes = {"12mp": photo.stat().st_size, "10000": huge.stat().st_size}
        for path_kind in ("refinement", "thumbnail"):
            for name, image in (("12mp", photo), ("10000", huge)):
                runs = [measure(path_kind, image) for _ in range(args.runs)]
                results[f"{path_kind}-{name}"] = {
                    "peak_mb": statistics.median(run["peak_mb"] for run in runs),
                    "ms": statistics.median(run["ms"] for run in runs),
                }
    print(f"12 MP photo {sizes['12mp'] / 1e6:.1f} MB, 10000 x 10000 JPEG {sizes['10000'] / 1e6:.1f} MB")
    print("| path | 12 MP: peak added | 10000 x 10000: peak added | ratio |")
    print("|---|---|---|---|")
    reference = results["refinement-12mp"]["peak_mb"]  # a phone photo, refined
    ratios = {}
    for path_kind in ("refinement", "thumbnail"):
        small, large = results[f"{path_kind}-12mp"], results[f"{path_kind}-10000"]
        ratios[path_kind] = large["peak_mb"] / max(reference, 0.1)
        print(f"| {path_kind} | {small['peak_mb']:.1f} MB | {large['peak_mb']:.1f} MB | {ratios[path_kind]:.2f} |")
    print(f"(ratios against refinement's 12 MP figure, {reference:.1f} MB; limit {LIMIT})")
    if args.json:
        figures = {"results": results, "ratios": ratios, "reference_mb": reference, "limit": LIMIT}
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if all(ratio <= LIMIT for ratio in ratios.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
