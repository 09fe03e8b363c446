"""Sample uploads, made on the fly: every format a phone sends, plus broken and hostile files."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

RED, BLUE = (220, 20, 20), (20, 20, 220)
EXIF_ORIENTATION = 0x0112


def two_tone(width: int = 400, height: int = 200) -> Image.Image:
    """Left half red, right half blue: after a rotation the halves tell which way is up."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    return image


def jpeg(width: int = 400, height: int = 200, orientation: int | None = None, quality: int = 90) -> bytes:
    image = two_tone(width, height)
    output = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[EXIF_ORIENTATION] = orientation
    image.save(output, "JPEG", quality=quality, exif=exif.tobytes())
    return output.getvalue()


def png() -> bytes:
    output = io.BytesIO()
    two_tone(300, 450).save(output, "PNG")
    return output.getvalue()


def tiff() -> bytes:
    output = io.BytesIO()
    two_tone(300, 450).save(output, "TIFF")
    return output.getvalue()


def png_with_transparency() -> bytes:
    image = Image.new("RGBA", (300, 450), (0, 0, 0, 0))  # fully transparent
    image.paste((20, 160, 20, 255), (100, 150, 200, 300))
    output = io.BytesIO()
    image.save(output, "PNG")
    return output.getvalue()


def webp() -> bytes:
    output = io.BytesIO()
    two_tone(300, 600).save(output, "WEBP", quality=80)
    return output.getvalue()


def heic() -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    output = io.BytesIO()
    two_tone(400, 600).save(output, "HEIF", quality=80)
    return output.getvalue()


def pdf() -> bytes:
    output = io.BytesIO()
    two_tone(600, 900).save(output, "PDF", resolution=72)
    return output.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height`: a decompression bomb, or just huge."""
    output = io.BytesIO()
    Image.new("L", (1, 1)).save(output, "PNG")
    data = bytearray(output.getvalue())
    header = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF)
    return bytes(data)


def corrupt_jpeg() -> bytes:
    return jpeg()[:300]  # a truncated upload
