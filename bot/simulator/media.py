"""Render the simulator's media: a real H.264 MP4, a WebP thumbnail and a JPEG spritesheet.

Every frame shows a drifting colour gradient, a moving square, the word SIMULATED, the first
characters of the prompt and a running timecode, so nobody mistakes the clip for a real generation.
Rendering is synchronous and CPU-bound: call :func:`render_media` through ``asyncio.to_thread``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

THUMBNAIL_MAX_SIDE = 640
SPRITE_TILE_WIDTH = 160
SPRITE_COLUMNS = 4
SPRITE_MAX_TILES = 12
PROMPT_EXCERPT_CHARS = 40

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class RenderSpec:
    """What to render.  ``reference_image`` (PNG/JPEG/WebP bytes of exactly width×height) becomes frame 0."""

    width: int
    height: int
    seconds: int
    fps: int = 12
    prompt: str = ""
    label: str = "SIMULATED"
    seed: int = 0
    reference_image: bytes | None = None

    @property
    def frame_count(self) -> int:
        return max(1, round(self.seconds * self.fps))


@dataclass(frozen=True)
class RenderedMedia:
    video: Path
    thumbnail: Path
    spritesheet: Path


def render_media(spec: RenderSpec, out_dir: Path) -> RenderedMedia:
    """Write ``video.mp4``, ``thumbnail.webp`` and ``spritesheet.jpg`` into ``out_dir`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    media = RenderedMedia(
        video=out_dir / "video.mp4",
        thumbnail=out_dir / "thumbnail.webp",
        spritesheet=out_dir / "spritesheet.jpg",
    )
    samples = _encode_video(spec, media.video)
    _write_thumbnail(samples[len(samples) // 2], media.thumbnail)
    _write_spritesheet(samples, media.spritesheet)
    return media


# --------------------------------------------------------------------------- video


def _encode_video(spec: RenderSpec, path: Path) -> list[Image.Image]:
    """Encode every frame; return the frames sampled for the thumbnail and spritesheet."""
    total = spec.frame_count
    sample_at = _sample_indices(total, SPRITE_MAX_TILES)
    samples: list[Image.Image] = []
    painter = _FramePainter(spec)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=spec.fps)
        stream.width = spec.width
        stream.height = spec.height
        # 4:2:0 needs even dimensions; odd catalog sizes still get their exact size in 4:4:4.
        stream.pix_fmt = "yuv420p" if spec.width % 2 == 0 and spec.height % 2 == 0 else "yuv444p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        for index in range(total):
            image = painter.frame(index)
            if index in sample_at:
                samples.append(image.copy())
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return samples


def _sample_indices(total: int, count: int) -> set[int]:
    count = min(total, count)
    return {round(i * (total - 1) / max(1, count - 1)) for i in range(count)}


class _FramePainter:
    """Draws frame ``i`` of a clip; the static parts (gradient axes, captions) are prepared once."""

    def __init__(self, spec: RenderSpec) -> None:
        self.spec = spec
        self.total = spec.frame_count
        self.phase = (spec.seed % 997) / 997
        self.xs = np.linspace(0.0, 1.0, spec.width, dtype=np.float32)[np.newaxis, :]
        self.ys = np.linspace(0.0, 1.0, spec.height, dtype=np.float32)[:, np.newaxis]
        self.reference = _open_reference(spec)
        self.caption, self.caption_top = _caption_overlay(spec)
        self.timecode_font = _font(max(8, min(spec.width, spec.height) // 20))

    def frame(self, index: int) -> Image.Image:
        if index == 0 and self.reference is not None:
            return self.reference.copy()
        t = index / self.total
        image = Image.fromarray(self._background(t), "RGB")
        if self.reference is not None:
            image = Image.blend(self.reference, image, 0.45)
        self._draw_square(image, t)
        image.paste(self.caption, (0, self.caption_top), self.caption)
        self._draw_timecode(image, index)
        return image

    def _background(self, t: float) -> np.ndarray:
        w, h = self.spec.width, self.spec.height
        angle = 2 * math.pi * (t + self.phase)
        rgb = np.empty((h, w, 3), dtype=np.uint8)
        rgb[:, :, 0] = (110 + 90 * np.sin(2 * math.pi * self.xs + angle)).astype(np.uint8)
        rgb[:, :, 1] = (110 + 90 * np.sin(2 * math.pi * self.ys - angle)).astype(np.uint8)
        blue_x = (60 + 55 * np.cos(math.pi * self.xs + angle)).astype(np.uint8)
        blue_y = (60 + 55 * np.sin(math.pi * self.ys - angle)).astype(np.uint8)
        np.add(blue_x, blue_y, out=rgb[:, :, 2])
        return rgb

    def _draw_square(self, image: Image.Image, t: float) -> None:
        w, h = self.spec.width, self.spec.height
        side = max(4, min(w, h) // 5)
        x = int((w - side) * (0.5 + 0.5 * math.sin(2 * math.pi * t)))
        y = int((h - side) * (0.5 + 0.5 * math.cos(2 * math.pi * t * 2)))
        ImageDraw.Draw(image).rectangle((x, y, x + side, y + side), fill=(255, 214, 10), outline=(20, 20, 20))

    def _draw_timecode(self, image: Image.Image, index: int) -> None:
        text = f"{index / self.spec.fps:5.2f}s  {index + 1}/{self.total}"
        margin = max(2, self.spec.height // 40)
        position = (margin, self.spec.height - margin)
        ImageDraw.Draw(image).text(
            position, text, font=self.timecode_font, fill="white", anchor="ls", stroke_width=1, stroke_fill="black"
        )


def _open_reference(spec: RenderSpec) -> Image.Image | None:
    if spec.reference_image is None:
        return None
    with Image.open(BytesIO(spec.reference_image)) as raw:
        image = raw.convert("RGB")
    if image.size != (spec.width, spec.height):
        image = image.resize((spec.width, spec.height))
    return image


def _caption_overlay(spec: RenderSpec) -> tuple[Image.Image, int]:
    """An RGBA band with the label and the prompt excerpt, and the row where it goes."""
    w, h = spec.width, spec.height
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    title_font = _fitting_font(draw, spec.label, max(10, min(w, h) // 7), int(w * 0.9))
    excerpt = _excerpt(spec.prompt)
    prompt_font = _fitting_font(draw, excerpt, max(8, min(w, h) // 16), int(w * 0.9)) if excerpt else None
    top = max(2, h // 12)
    title_box = draw.textbbox((w // 2, top), spec.label, font=title_font, anchor="mt")
    bottom = title_box[3]
    if excerpt and prompt_font is not None:
        prompt_box = draw.textbbox((w // 2, bottom + top // 2), excerpt, font=prompt_font, anchor="mt")
        bottom = prompt_box[3]
    band = (0, top // 2, w, min(h, bottom + top // 2))
    draw.rectangle(band, fill=(0, 0, 0, 150))
    draw.text((w // 2, top), spec.label, font=title_font, anchor="mt", fill=(255, 255, 255, 255))
    if excerpt and prompt_font is not None:
        draw.text((w // 2, title_box[3] + top // 2), excerpt, font=prompt_font, anchor="mt", fill=(255, 255, 255, 255))
    return overlay.crop((0, band[1], w, band[3] + 1)), band[1]


def _excerpt(prompt: str) -> str:
    flat = " ".join(prompt.split())
    return flat if len(flat) <= PROMPT_EXCERPT_CHARS else flat[: PROMPT_EXCERPT_CHARS - 1].rstrip() + "…"


def _fitting_font(draw: ImageDraw.ImageDraw, text: str, size: int, max_width: int) -> Font:
    font = _font(size)
    while size > 8 and draw.textlength(text, font=font) > max_width:
        size = max(8, int(size * 0.85))
        font = _font(size)
    return font


@lru_cache(maxsize=64)
def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError):  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


# --------------------------------------------------------------------------- stills


def _write_thumbnail(image: Image.Image, path: Path) -> None:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE))
    thumb.save(path, format="WEBP", quality=80)


def _write_spritesheet(samples: list[Image.Image], path: Path) -> None:
    width, height = samples[0].size
    tile_w = min(SPRITE_TILE_WIDTH, width)
    tile_h = max(1, round(height * tile_w / width))
    columns = min(SPRITE_COLUMNS, len(samples))
    rows = math.ceil(len(samples) / columns)
    sheet = Image.new("RGB", (tile_w * columns, tile_h * rows), (0, 0, 0))
    for i, sample in enumerate(samples):
        sheet.paste(sample.resize((tile_w, tile_h)), ((i % columns) * tile_w, (i // columns) * tile_h))
    sheet.save(path, format="JPEG", quality=80)
