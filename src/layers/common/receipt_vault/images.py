"""Receipt images in S3: the allowed formats and the key layout of DATA-MODEL.md.

users/{sub}/receipts/{receiptId}/original/{imageId}.{ext}
users/{sub}/receipts/{receiptId}/thumbnail/{imageId}.jpg
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

# What a phone may upload, and the extension its original is stored under.
CONTENT_TYPE_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "application/pdf": "pdf",
}
# A receipt received by e-mail may also have an HTML original (the e-receipt, sanitised): never
# uploaded by a phone, so not among the types above.
HTML_ORIGINAL = "html"
ORIGINAL = "original"
THUMBNAIL = "thumbnail"
_IMAGE_KEY = re.compile(
    r"^users/(?P<user>[^/]+)/receipts/(?P<receipt>[0-9a-f-]{36})/(?P<variant>original|thumbnail)/"
    r"(?P<image>[0-9a-f-]{36})\.(?P<extension>[a-z]+)$"
)


@dataclass(frozen=True)
class ImageKey:
    user_id: str
    receipt_id: str
    image_id: str
    extension: str
    variant: str = ORIGINAL

    @classmethod
    def new_original(cls, user_id: str, receipt_id: str, content_type: str) -> ImageKey:
        return cls(user_id, receipt_id, str(uuid.uuid4()), CONTENT_TYPE_EXTENSIONS[content_type])

    @classmethod
    def parse(cls, key: str) -> ImageKey | None:
        """The parts of a key of this layout; None for any other key."""
        match = _IMAGE_KEY.match(key)
        if match is None:
            return None
        return cls(match["user"], match["receipt"], match["image"], match["extension"], match["variant"])

    @property
    def key(self) -> str:
        return f"users/{self.user_id}/receipts/{self.receipt_id}/{self.variant}/{self.image_id}.{self.extension}"

    @property
    def thumbnail(self) -> ImageKey:
        return ImageKey(self.user_id, self.receipt_id, self.image_id, "jpg", THUMBNAIL)


# A receipt's originals: a long receipt photographed in parts, its pages, a warranty card.
MAX_IMAGES_PER_RECEIPT = 20


def user_prefix(user_id: str) -> str:
    return f"users/{user_id}/"


def thumbnail_url(cdn_base_url: str, thumbnail_key: str) -> str:
    """Thumbnails are served through CloudFront; a bare domain gets https."""
    base = cdn_base_url if "://" in cdn_base_url else f"https://{cdn_base_url}"
    return f"{base.rstrip('/')}/{thumbnail_key}"
