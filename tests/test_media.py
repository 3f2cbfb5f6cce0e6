"""bot.media helpers and the simulator's renderer (bot.simulator.media)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bot.media import MediaError, VideoInfo, probe_video, sniff_image_type
from bot.simulator.media import RenderSpec, render_media


def encoded(fmt: str, size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "expected"), [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp"), ("GIF", None)])
def test_sniff_image_type_reads_magic_bytes(fmt: str, expected: str | None):
    assert sniff_image_type(encoded(fmt)) == expected


@pytest.mark.parametrize("data", [b"", b"\x89PN", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"<html>", b"\xff\xd8"])
def test_sniff_image_type_rejects_other_bytes(data: bytes):
    assert sniff_image_type(data) is None


def decode_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_render_and_probe_exact_geometry(tmp_path: Path):
    media = render_media(RenderSpec(width=96, height=64, seconds=2, fps=5, prompt="a lighthouse in a storm"), tmp_path)
    info = probe_video(media.video)
    assert isinstance(info, VideoInfo)
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 96, 64, 10)
    assert info.duration_seconds == pytest.approx(2.0, abs=0.01)
    frames = decode_rgb(media.video)
    assert len(frames) == 10
    assert np.abs(frames[0].astype(int) - frames[5].astype(int)).mean() > 5  # the picture moves


def test_video_is_faststart_mp4(tmp_path: Path):
    media = render_media(RenderSpec(width=32, height=32, seconds=1, fps=3), tmp_path)
    data = media.video.read_bytes()
    assert data[4:8] == b"ftyp"
    assert 0 < data.find(b"moov") < data.find(b"mdat")


def test_odd_sizes_keep_their_exact_size(tmp_path: Path):
    media = render_media(RenderSpec(width=33, height=17, seconds=1, fps=2), tmp_path)
    info = probe_video(media.video)
    assert (info.width, info.height, info.frames) == (33, 17, 2)


def test_caption_is_burned_in(tmp_path: Path):
    plain = render_media(RenderSpec(width=320, height=180, seconds=1, fps=2, label=""), tmp_path / "plain")
    labelled = render_media(RenderSpec(width=320, height=180, seconds=1, fps=2, prompt="hello"), tmp_path / "label")
    band = (slice(0, 60), slice(None))
    difference = np.abs(decode_rgb(plain.video)[1][band].astype(int) - decode_rgb(labelled.video)[1][band].astype(int))
    assert difference.mean() > 10


def test_reference_image_is_the_first_frame(tmp_path: Path):
    reference = encoded("PNG", (64, 48))
    media = render_media(RenderSpec(width=64, height=48, seconds=1, fps=4, reference_image=reference), tmp_path)
    first = decode_rgb(media.video)[0].reshape(-1, 3).mean(axis=0)
    assert np.allclose(first, (10, 200, 30), atol=12)


def test_portrait_thumbnail_and_spritesheet(tmp_path: Path):
    media = render_media(RenderSpec(width=720, height=1280, seconds=1, fps=3), tmp_path)
    with Image.open(media.thumbnail) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("WEBP", (360, 640))
    with Image.open(media.spritesheet) as sheet:
        # three frames → three 160-pixel-wide tiles in one row, aspect kept
        assert (sheet.format, sheet.size) == ("JPEG", (480, 284))


def test_probe_video_rejects_non_video(tmp_path: Path):
    not_video = tmp_path / "notes.txt"
    not_video.write_text("hello")
    with pytest.raises(MediaError):
        probe_video(not_video)
    with pytest.raises(MediaError):
        probe_video(tmp_path / "missing.mp4")
