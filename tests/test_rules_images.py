"""Reference images: type sniffing, size bounds, decompression bombs, face detection, resize and crop.

Face detection is tested on two real photographs shipped in tests/data (see tests/data/README.md): a frontal
face (also turned by 90/180/270 degrees and mirrored) and a face in profile.  Plain drawings, a cat and
objects must pass.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bot.rules import check_image, prepare_reference_image
from bot.rules.images import MAX_IMAGE_PIXELS, ImageRejected, sniff_image_type

DATA = Path(__file__).parent / "data"


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def shapes(size: tuple[int, int] = (640, 360), mode: str = "RGB") -> Image.Image:
    """A plain drawing: a sky, a sun, a house and a tree — no faces."""
    image = Image.new(mode, size, (135, 200, 235, 255) if mode == "RGBA" else (135, 200, 235))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.75, h * 0.08, w * 0.9, h * 0.35), fill=(255, 220, 0))
    draw.rectangle((w * 0.2, h * 0.5, w * 0.45, h * 0.9), fill=(180, 60, 40))
    draw.polygon([(w * 0.18, h * 0.5), (w * 0.325, h * 0.3), (w * 0.47, h * 0.5)], fill=(90, 40, 30))
    draw.rectangle((w * 0.6, h * 0.55, w * 0.63, h * 0.9), fill=(100, 70, 20))
    draw.ellipse((w * 0.53, h * 0.35, w * 0.7, h * 0.6), fill=(30, 140, 40))
    draw.rectangle((0, h * 0.9, w, h), fill=(60, 160, 60))
    return image


def png_with_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb's calling card)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- type and size ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_plain_drawings_pass_in_every_accepted_format(fmt: str) -> None:
    data = encode(shapes(), fmt)
    assert sniff_image_type(data) == fmt.lower()
    assert check_image(data).allowed


def test_transparent_png_passes() -> None:
    assert check_image(encode(shapes(mode="RGBA"), "PNG")).allowed


@pytest.mark.parametrize(
    "data",
    [
        encode(shapes(), "GIF"),
        encode(shapes(), "BMP"),
        encode(shapes(), "TIFF"),
        b"hello, this is a text file pretending to be an image.png",
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
        b"",
        b"MZ\x90\x00 not an image",
    ],
    ids=["gif", "bmp", "tiff", "text", "svg", "empty", "exe"],
)
def test_other_types_are_refused_by_their_bytes(data: bytes) -> None:
    verdict = check_image(data)
    assert (verdict.allowed, verdict.category, verdict.rule) == (False, "image_type", "image:magic")


def test_a_renamed_gif_is_still_a_gif() -> None:
    # The file name is never consulted; only the bytes count.
    assert check_image(encode(shapes(), "GIF")).category == "image_type"


def test_corrupt_and_truncated_files_are_refused() -> None:
    jpeg = encode(shapes(), "JPEG")
    assert check_image(jpeg[: len(jpeg) // 3]).category == "image_type"
    assert check_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).category == "image_type"
    assert check_image(b"RIFF\x00\x00\x00\x00WEBPVP8 garbage").category == "image_type"


def test_too_many_bytes_is_refused_before_anything_else() -> None:
    data = encode(shapes(), "PNG")
    verdict = check_image(data, max_bytes=len(data) - 1)
    assert (verdict.category, verdict.rule) == ("image_size", "image:bytes")
    assert check_image(data, max_bytes=len(data)).allowed


@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (20_000, 3_000), (100_000, 16)])
def test_decompression_bombs_are_refused_from_the_header(width: int, height: int) -> None:
    data = png_with_header(width, height)
    assert len(data) < 200
    verdict = check_image(data)
    assert (verdict.allowed, verdict.category) == (False, "image_size")


def test_pixel_budget_is_configurable() -> None:
    data = encode(shapes((400, 300)), "PNG")
    assert check_image(data, max_pixels=400 * 300).allowed
    assert check_image(data, max_pixels=400 * 300 - 1).rule == "image:pixels"
    assert MAX_IMAGE_PIXELS == 40_000_000


def test_tiny_images_are_refused() -> None:
    assert check_image(encode(Image.new("RGB", (8, 8)), "PNG")).rule == "image:side"


# --- faces -----------------------------------------------------------------------------------


def test_a_frontal_face_is_refused() -> None:
    verdict = check_image((DATA / "face_astronaut.jpg").read_bytes())
    assert (verdict.allowed, verdict.category, verdict.rule) == (False, "image_face", "image:face")


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_a_turned_face_is_still_refused(angle: int) -> None:
    image = Image.open(DATA / "face_astronaut.jpg").rotate(angle, expand=True)
    assert check_image(encode(image, "PNG")).category == "image_face"


def test_a_mirrored_face_in_webp_is_refused() -> None:
    image = Image.open(DATA / "face_astronaut.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert check_image(encode(image, "WEBP")).category == "image_face"


def test_a_face_in_profile_is_refused() -> None:
    assert check_image((DATA / "face_profile_camera.png").read_bytes()).category == "image_face"


@pytest.mark.parametrize("name", ["cat_chelsea.jpg", "coffee.jpg", "rocket.jpg"])
def test_photos_without_people_pass(name: str) -> None:
    assert check_image((DATA / name).read_bytes()).allowed


def test_a_small_face_in_a_big_image_is_found_after_downscaling() -> None:
    canvas = shapes((2400, 1600))
    face = Image.open(DATA / "face_astronaut.jpg").convert("RGB").resize((800, 800))
    canvas.paste(face, (1400, 400))
    assert check_image(encode(canvas, "JPEG", quality=90)).category == "image_face"


def test_detection_can_be_skipped() -> None:
    assert check_image((DATA / "face_astronaut.jpg").read_bytes(), detect=False).allowed


# --- resize and crop -------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["1280x720", "720x1280", "1792x1024", "1024x1792", "512x512"])
@pytest.mark.parametrize("source", [(640, 360), (360, 640), (500, 500), (1000, 200)])
def test_prepared_images_have_exactly_the_requested_size(size: str, source: tuple[int, int]) -> None:
    data, content_type = prepare_reference_image(encode(shapes(source), "JPEG"), size)
    assert content_type == "image/jpeg"
    result = Image.open(io.BytesIO(data))
    assert result.format == "JPEG"
    assert f"{result.width}x{result.height}" == size


def test_png_sources_stay_png_and_keep_transparency() -> None:
    data, content_type = prepare_reference_image(encode(shapes(mode="RGBA"), "PNG"), "720x1280")
    result = Image.open(io.BytesIO(data))
    assert (content_type, result.format, result.mode, result.size) == ("image/png", "PNG", "RGBA", (720, 1280))


def test_crop_is_centred() -> None:
    source = Image.new("RGB", (300, 100), (255, 0, 0))
    source.paste((0, 0, 255), (100, 0, 200, 100))  # blue centre third
    data, _ = prepare_reference_image(encode(source, "PNG"), "100x100")
    result = Image.open(io.BytesIO(data)).convert("RGB")
    r, _, b = result.getpixel((50, 50))
    assert b > 200 and r < 50
    assert result.getpixel((2, 50))[2] > 200  # the red thirds were cropped away


def test_exif_rotation_is_applied_and_metadata_dropped() -> None:
    source = shapes((400, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    exif[0x010F] = "SecretCam"
    data, _ = prepare_reference_image(encode(source, "JPEG", exif=exif.tobytes()), "200x400")
    result = Image.open(io.BytesIO(data))
    assert result.size == (200, 400)
    assert not result.getexif()


@pytest.mark.parametrize(
    "image",
    [
        Image.new("P", (64, 48), 3),
        Image.new("LA", (64, 48)),
        Image.new("L", (64, 48), 128),
        Image.new("I;16", (64, 48)),
    ],
    ids=["palette", "gray-alpha", "gray", "16-bit"],
)
def test_unusual_modes_are_converted(image: Image.Image) -> None:
    data, content_type = prepare_reference_image(encode(image, "PNG"), "128x96")
    assert content_type == "image/png"
    assert Image.open(io.BytesIO(data)).size == (128, 96)


def test_cmyk_jpeg_becomes_rgb_jpeg() -> None:
    data, content_type = prepare_reference_image(encode(shapes().convert("CMYK"), "JPEG"), "320x180")
    assert content_type == "image/jpeg"
    assert Image.open(io.BytesIO(data)).mode == "RGB"


def test_prepare_rejects_bad_input() -> None:
    with pytest.raises(ImageRejected) as info:
        prepare_reference_image(encode(shapes(), "GIF"), "1280x720")
    assert info.value.verdict.category == "image_type"
    with pytest.raises(ImageRejected):
        prepare_reference_image(png_with_header(60_000, 60_000), "1280x720")
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        prepare_reference_image(encode(shapes(), "PNG"), "huge")
