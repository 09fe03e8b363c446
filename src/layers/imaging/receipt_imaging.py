"""Images from whatever a phone uploads (JPEG, PNG, WebP, HEIC/HEIF and PDF), in bounded memory:
the imaging layer's code, shared by the thumbnail generator and OCR refinement.

- A JPEG is decoded at a reduced scale (`Image.draft`): the decoder skips the DCT detail a
  200x300 thumbnail never shows, so a 12 MP photo never exists at full size in memory.
- HEIC/HEIF (iPhone) goes through pillow-heif, and a PDF's first page through pypdfium2.
  Pillow itself loads with the first image, and the two others with the first file of their
  kind, so an invocation that makes no thumbnail never pays for them.
- EXIF orientation is applied, so sideways photos come out upright, then the image is
  centre-cropped to the target box.
- Decompression bombs are refused: an image declaring more pixels than a phone camera makes
  fails before any pixel is decoded.
A file that cannot be used raises UnusableImageError, a permanent failure that no retry can
fix. `make_thumbnail` is the generator's; `fit_within` is refinement's: the picture for the
model, at most `max_edge` on its long side, whatever the size of the upload.
"""

from __future__ import annotations

import functools
import io
import warnings
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Largest phone sensors are 200 MP; beyond that a file is a bomb, not a photo.
MAX_PIXELS = 250_000_000
# Formats without reduced-scale decoding are decoded whole; this bounds their memory.
MAX_FULL_DECODE_PIXELS = 50_000_000
# A PDF page is rendered at twice the target, so the LANCZOS downscale stays sharp. A JPEG is
# decoded at the smallest scale that still covers the target: at 1/8 libjpeg decodes only the
# DC coefficients, which is where the speed comes from.
PDF_OVERSAMPLING = 2
MAX_PDF_RENDER_SCALE = 4.0

_heif_registered = False
# What Pillow reports for each extension an upload may have (receipt_vault.images).
# Phones write many JPEGs as MPO (a JPEG with the multi-picture extension).
_JPEG_FORMATS = ("JPEG", "MPO")
_PILLOW_FORMATS = {"jpg": _JPEG_FORMATS, "png": ("PNG",), "webp": ("WEBP",), "heic": ("HEIF",), "heif": ("HEIF",)}


@functools.cache
def _pillow() -> ModuleType:
    """PIL.Image, with the bomb limit set: call it before using the module."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb check, at our limit
    return Image


class UnusableImageError(Exception):
    """The upload cannot become a thumbnail: corrupt, unsupported, too large or a bomb."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def make_thumbnail(data: bytes, extension: str, width: int, height: int, quality: int) -> bytes:
    """A `width` x `height` JPEG, upright and centre-cropped."""
    return thumbnail_and_dhash(data, extension, width, height, quality)[0]


def thumbnail_and_dhash(data: bytes, extension: str, width: int, height: int, quality: int) -> tuple[bytes, str]:
    """The thumbnail and the perceptual hash of the whole upright picture, from one decode."""
    _pillow()
    from PIL import Image, ImageOps

    image = _decode(data, extension, width, height)
    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L"):
        image = _flatten(image)
    thumbnail = ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    output = io.BytesIO()
    thumbnail.convert("RGB").save(output, "JPEG", quality=quality, optimize=True, progressive=True)
    return output.getvalue(), dhash(image)


def text_page_thumbnail_and_dhash(text: str, width: int, height: int, quality: int) -> tuple[bytes, str]:
    """The thumbnail of a receipt that has only text (an HTML e-mail has no picture): its first
    lines, wrapped to the page, in dark grey on white in Pillow's default font, as a `width` x
    `height` JPEG, and the difference hash of that page. Empty text is a blank page; a character
    the font lacks is drawn as its box. The page is drawn at twice the size and scaled down, so
    that the small type stays legible."""
    import unicodedata

    _pillow()
    from PIL import Image, ImageDraw, ImageFont

    scale = 2
    ink = 51  # #333333
    page = Image.new("L", (width * scale, height * scale), 255)
    font_size = max(6, round(min(width / 16, height / 22) * scale))
    font = ImageFont.load_default(size=font_size)
    margin = max(1, round(min(width, height) * scale * 0.06))
    line_height = round(font_size * 1.3)
    usable = max(1, page.width - 2 * margin)
    room = max(0, (page.height - 2 * margin) // line_height)
    # What fits on a page is a few hundred characters: the rest of the text is never measured.
    # Controls, invisible format characters and lone surrogates are not drawn (not even as boxes).
    shown = "".join(
        " " if char == "\t" else char
        for char in text[: room * 200].replace("\r\n", "\n").replace("\r", "\n")
        if char in "\t\n" or unicodedata.category(char) not in ("Cc", "Cf", "Cs")
    )

    def fitting(words: str) -> int:
        """How many leading characters of `words` fit on a line: at least one."""
        low, high = 1, len(words)
        while low < high:
            middle = (low + high + 1) // 2
            if font.getlength(words[:middle]) <= usable:
                low = middle
            else:
                high = middle - 1
        return low

    lines: list[str] = []
    for paragraph in shown.split("\n"):
        remaining = " ".join(paragraph.split())
        if not remaining and lines and lines[-1]:
            lines.append("")  # a blank line, once
        while remaining and len(lines) < room:
            count = fitting(remaining[:200])
            if count < len(remaining):  # break at the last space that fits, if any
                space = remaining.rfind(" ", 0, count + 1)
                count = space if space > 0 else count
            lines.append(remaining[:count].rstrip())
            remaining = remaining[count:].lstrip()
        if len(lines) >= room:
            break
    draw = ImageDraw.Draw(page)
    for index, line in enumerate(lines[:room]):
        draw.text((margin, margin + index * line_height), line, fill=ink, font=font)
    rendered = page.resize((width, height), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    rendered.convert("RGB").save(output, "JPEG", quality=quality, optimize=True, progressive=True)
    return output.getvalue(), dhash(rendered)


def dhash(image: Image.Image) -> str:
    """The 64-bit difference hash of a picture (greyscale, 9 x 8, each pixel brighter than its
    right neighbour or not), as 16 hex digits: Pillow alone, the algorithm of `imagehash.dhash`."""
    _pillow()
    from PIL import Image

    small = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = small.tobytes()  # one byte per pixel, row by row
    bits = 0
    for row in range(8):
        for column in range(8):
            bits = bits << 1 | (pixels[row * 9 + column] > pixels[row * 9 + column + 1])
    return f"{bits:016x}"


def upright_dhash(data: bytes, extension: str) -> str:
    """The difference hash of an upload, upright (EXIF applied), decoded at a small scale."""
    _pillow()
    from PIL import ImageOps

    image = ImageOps.exif_transpose(_decode(data, extension, 64, 64))
    if image.mode not in ("RGB", "L"):
        image = _flatten(image)
    return dhash(image)


def fit_within(data: bytes, extension: str, max_edge: int, quality: int = 85) -> bytes:
    """A JPEG of the picture, upright, at most `max_edge` on its long side. A JPEG is decoded at
    the reduced scale that just covers the target, so a 10000 x 10000 upload costs about what a
    12 MP photo does; other formats are decoded whole under MAX_FULL_DECODE_PIXELS."""
    _pillow()
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(_decode(data, extension, max_edge, max_edge))
    if image.mode not in ("RGB", "L"):
        image = _flatten(image)
    image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    image.convert("RGB").save(output, "JPEG", quality=quality)
    return output.getvalue()


def _decode(data: bytes, extension: str, width: int, height: int) -> Image.Image:
    _pillow()
    from PIL import Image, UnidentifiedImageError

    if extension == "pdf":
        return _render_first_pdf_page(data, width, height)
    if extension in ("heic", "heif"):
        _register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.format not in _PILLOW_FORMATS[extension]:
                raise UnusableImageError("not-the-declared-type")  # a TIFF sent as image/jpeg
            if image.format in _JPEG_FORMATS:
                # Either orientation may end up on either axis, so ask for the larger side on both.
                side = max(width, height)
                image.draft("RGB", (side, side))
            elif image.width * image.height > MAX_FULL_DECODE_PIXELS:
                raise UnusableImageError("too-many-pixels")
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UnusableImageError("decompression-bomb") from None
        except UnidentifiedImageError:
            raise UnusableImageError("unsupported-or-corrupt") from None
        except (OSError, SyntaxError, ValueError):  # truncated or malformed data
            raise UnusableImageError("corrupt") from None
    return image


def _render_first_pdf_page(data: bytes, width: int, height: int) -> Image.Image:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        raise UnusableImageError("corrupt-pdf") from None
    try:
        if len(document) == 0:
            raise UnusableImageError("empty-pdf")
        page = document[0]
        page_width, page_height = page.get_size()
        if page_width <= 0 or page_height <= 0:
            raise UnusableImageError("corrupt-pdf")
        scale = min(max(width / page_width, height / page_height) * PDF_OVERSAMPLING, MAX_PDF_RENDER_SCALE)
        rendered: Image.Image = page.render(scale=scale).to_pil()  # pypdfium2 has no types
        page.close()
        return rendered
    finally:
        document.close()


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


def _flatten(image: Image.Image) -> Image.Image:
    """Transparent areas become white, as on paper, rather than black."""
    _pillow()
    from PIL import Image

    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background
