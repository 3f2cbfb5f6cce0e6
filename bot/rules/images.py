"""Reference images: type sniffed from the bytes, size bounded before decoding, faces refused, then fitted.

:func:`check_image` refuses, in this order and each before any costlier step:

1. more than ``max_bytes`` bytes (``image_size``);
2. anything whose magic bytes are not PNG, JPEG or WebP — GIF, SVG, text, executables (``image_type``);
3. dimensions, read from the header only, outside 16 px … 16384 px a side or above ``max_pixels`` in total
   (``image_size``) — so a decompression bomb (a tiny file declaring 50 000 × 50 000 pixels) is refused
   without ever being decoded;
4. files that do not decode cleanly, truncated ones included (``image_type``);
5. human faces (``image_face``), found by OpenCV's Haar cascades on an equalized grayscale copy at most
   448 px a side: the frontal cascade ``haarcascade_frontalface_alt2``, whose detections must either be
   very confident or be confirmed by the independent ``_default`` cascade in the same region (each cascade
   alone fires on coin and cell textures); the profile cascade in both directions; and the confirmed
   frontal check again on the copy turned by 90°, 180° and 270°, so a sideways or upside-down face is not
   a way around it.  Faces smaller than 5 % of the short side are ignored (a crowd in the far distance).

Haar cascades are a coarse detector: they miss strongly turned, occluded or stylized faces, and cartoon faces
usually pass.  That is the intended trade-off for a first, local, dependency-free gate; the provider's own
check remains behind it.

:func:`prepare_reference_image` then scales and centre-crops an accepted image to exactly the video size.
"""

from __future__ import annotations

import io
import logging
import warnings
from functools import lru_cache
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.catalog import parse_size
from bot.rules.verdict import Verdict

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_PIXELS",
    "ImageRejected",
    "check_image",
    "detect_faces",
    "prepare_reference_image",
    "sniff_image_type",
]

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
MIN_SIDE = 16
MAX_SIDE = 16384
DETECT_MAX_SIDE = 448
MIN_FACE_FRACTION = 0.05

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


class ImageRejected(ValueError):
    """Raised by :func:`prepare_reference_image`; ``verdict`` says why."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


def sniff_image_type(data: bytes) -> str | None:
    """``"png"``, ``"jpeg"`` or ``"webp"`` from the magic bytes, else None (the file name is never trusted)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _open(data: bytes, max_bytes: int, max_pixels: int) -> tuple[Image.Image | None, Verdict]:
    """Open the header only and apply every check that needs no decoding."""
    if len(data) > max_bytes:
        limit = max_bytes / (1024 * 1024)
        return None, Verdict.refuse("image_size", f"Reference images can be at most {limit:g} MiB.", "image:bytes")
    kind = sniff_image_type(data)
    if kind is None:
        return None, Verdict.refuse("image_type", rule="image:magic")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, Verdict.refuse("image_size", _too_many_pixels(max_pixels), "image:pixels")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None, Verdict.refuse("image_type", _UNREADABLE, "image:decode")
    width, height = image.size
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        image.close()
        return None, Verdict.refuse(
            "image_size", f"Reference images must be between {MIN_SIDE} and {MAX_SIDE} pixels a side.", "image:side"
        )
    if width * height > max_pixels:
        image.close()
        return None, Verdict.refuse("image_size", _too_many_pixels(max_pixels), "image:pixels")
    return image, Verdict.ok()


_UNREADABLE = "That reference image couldn't be read. Use an intact PNG, JPEG or WebP file."


def _too_many_pixels(max_pixels: int) -> str:
    return f"Reference images can have at most {max_pixels / 1_000_000:g} megapixels."


def _decode(image: Image.Image, draft_side: int | None) -> Image.Image | None:
    """Decode the first frame (JPEGs at a reduced scale when that is enough), upright, or None if corrupt."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if draft_side is not None and image.format == "JPEG":
                image.draft("RGB", (draft_side, draft_side))
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning):
        return None
    return upright if upright is not None else image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB or RGBA, whatever the source mode (palette, 16-bit, CMYK, grayscale with alpha...)."""
    if image.mode in ("RGB", "RGBA"):
        return image
    has_alpha = image.mode in ("LA", "PA", "La") or (image.mode == "P" and "transparency" in image.info)
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        image = image.point(lambda v: v / 256).convert("L") if image.mode != "F" else image.convert("L")
    return image.convert("RGBA" if has_alpha else "RGB")


# --- faces -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _cascades() -> tuple[Any, Any, Any] | None:
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv-python-headless is a dependency
        return None
    base = cv2.data.haarcascades  # type: ignore[attr-defined]
    frontal = cv2.CascadeClassifier(base + "haarcascade_frontalface_alt2.xml")
    confirm = cv2.CascadeClassifier(base + "haarcascade_frontalface_default.xml")
    profile = cv2.CascadeClassifier(base + "haarcascade_profileface.xml")
    if frontal.empty() or confirm.empty() or profile.empty():
        return None
    return frontal, confirm, profile


# Tuned on scikit-image's sample photographs (textures, coins, a cat, cells, the Moon, ...) and the 25 px
# LFW face crops it ships: a frontal detection counts when the alt2 cascade is very sure (many
# overlapping hits) or when the independent "default" cascade confirms it inside the same region.
_STRONG_NEIGHBORS = 10
_CONFIRMED_NEIGHBORS = 4
_ROTATED_NEIGHBORS = 7
_PROFILE_NEIGHBORS = 5
_SCALE = 1.1


def _frontal(cascades: tuple[Any, Any, Any], pixels: Any, side: int, neighbors: int, strong: int | None) -> bool:
    frontal, confirm, _ = cascades
    rects, counts = frontal.detectMultiScale2(pixels, scaleFactor=_SCALE, minNeighbors=neighbors, minSize=(side, side))
    for (x, y, w, h), count in zip(rects, counts, strict=True):
        if strong is not None and count >= strong:
            return True
        margin = w // 4
        region = pixels[max(0, y - margin) : y + h + margin, max(0, x - margin) : x + w + margin]
        inner = max(12, int(w * 0.6))
        if len(confirm.detectMultiScale(region, scaleFactor=1.1, minNeighbors=3, minSize=(inner, inner))):
            return True
    return False


def detect_faces(image: Image.Image) -> bool:
    """Whether the cascades find a human face in ``image`` (upright, in profile, or turned by 90/180/270°)."""
    import cv2
    import numpy as np

    cascades = _cascades()
    if cascades is None:
        raise RuntimeError("OpenCV's Haar cascades are not available")
    gray = image
    if gray.mode in ("RGBA", "LA", "PA") or (gray.mode == "P" and "transparency" in gray.info):
        backdrop = Image.new("RGBA", gray.size, (255, 255, 255, 255))
        gray = Image.alpha_composite(backdrop, gray.convert("RGBA"))
    pixels: Any = np.asarray(gray.convert("L"), dtype=np.uint8)
    height, width = pixels.shape
    if max(height, width) > DETECT_MAX_SIDE:
        scale = DETECT_MAX_SIDE / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    pixels = cv2.equalizeHist(pixels)
    side = max(20, int(min(pixels.shape) * MIN_FACE_FRACTION))

    if _frontal(cascades, pixels, side, _CONFIRMED_NEIGHBORS, _STRONG_NEIGHBORS):
        return True
    profile = cascades[2]
    for arr in (pixels, cv2.flip(pixels, 1)):
        found = profile.detectMultiScale(arr, scaleFactor=_SCALE, minNeighbors=_PROFILE_NEIGHBORS, minSize=(side, side))
        if len(found):
            return True
    for rotation in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180):
        if _frontal(cascades, cv2.rotate(pixels, rotation), side, _ROTATED_NEIGHBORS, None):
            return True
    return False


# --- public API --------------------------------------------------------------------------------


def check_image(
    data: bytes,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
    detect: bool = True,
) -> Verdict:
    """Whether ``data`` may be used as a reference image (see the module docstring for the checks)."""
    image, verdict = _open(data, max_bytes, max_pixels)
    if image is None:
        return verdict
    with image:
        decoded = _decode(image, DETECT_MAX_SIDE * 2)
        if decoded is None:
            return Verdict.refuse("image_type", _UNREADABLE, "image:decode")
        if not detect:
            return Verdict.ok()
        try:
            has_face = detect_faces(decoded)
        except Exception:  # fail closed: an unchecked image is not sent
            log.exception("face detection failed")
            return Verdict.refuse(
                "image_face", "Reference images can't be checked right now, so they can't be used.", "image:detector"
            )
    if has_face:
        return Verdict.refuse("image_face", rule="image:face")
    return Verdict.ok()


def prepare_reference_image(
    data: bytes,
    size: str,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> tuple[bytes, str]:
    """Scale and centre-crop an image to exactly ``size`` (``"WIDTHxHEIGHT"``) for upload.

    Returns ``(bytes, content_type)``: PNG when the source is a PNG or has transparency (lossless, alpha
    kept), JPEG otherwise.  Metadata (EXIF, including GPS) is dropped and EXIF rotation applied.  Faces
    are not checked here — call :func:`check_image` first.  Raises :class:`ImageRejected` for files that
    fail the type and size checks and ``ValueError`` for a malformed ``size``.
    """
    width, height = parse_size(size)
    image, verdict = _open(data, max_bytes, max_pixels)
    if image is None:
        raise ImageRejected(verdict)
    with image:
        source_format = image.format
        decoded = _decode(image, max(width, height))
        if decoded is None:
            raise ImageRejected(Verdict.refuse("image_type", _UNREADABLE, "image:decode"))
        flat = _flatten(decoded)
    fitted = ImageOps.fit(flat, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    out = io.BytesIO()
    if source_format == "PNG" or fitted.mode == "RGBA":
        fitted.save(out, format="PNG", optimize=False)
        return out.getvalue(), "image/png"
    fitted.convert("RGB").save(out, format="JPEG", quality=92, optimize=True)
    return out.getvalue(), "image/jpeg"
