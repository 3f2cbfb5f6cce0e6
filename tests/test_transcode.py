"""Re-encoding a video to fit an upload limit, on real MP4s with sound written by PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from bot.media import probe_video
from bot.transcode import fit_to_size


def make_clip(path: Path, *, width: int = 480, height: int = 270, seconds: int = 2, fps: int = 24) -> Path:
    """A hard-to-compress clip (noise) with a stereo 440 Hz tone, encoded at very high quality."""
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "10", "preset": "ultrafast"}
        audio = out.add_stream("aac", rate=48_000)
        audio.layout = "stereo"
        for index in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(48_000 * seconds) / 48_000)).astype(np.float32)
        stereo = np.vstack([tone, tone])
        for start in range(0, stereo.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(stereo[:, start : start + 1024]), format="fltp", layout="stereo"
            )
            chunk.sample_rate, chunk.pts, chunk.time_base = 48_000, start, Fraction(1, 48_000)
            out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
        out.mux(video.encode(None))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "source.mp4")


def test_fits_the_budget_and_keeps_length_and_sound(clip: Path, tmp_path: Path) -> None:
    budget = 200_000
    assert clip.stat().st_size > 3 * budget
    result = fit_to_size(clip, tmp_path / "fit.mp4", budget)
    assert result is not None and result.size_bytes == result.path.stat().st_size <= budget
    info = probe_video(result.path)
    assert info.codec == "h264" and info.duration_seconds == pytest.approx(2.0, abs=0.15)
    with av.open(str(result.path)) as container:
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]


def test_thin_bitrate_scales_the_picture_down_keeping_the_aspect() -> None:
    from bot.transcode import _scaled_size

    assert _scaled_size(1280, 720, 8_000_000, 24) == (1280, 720)  # plenty of bits: full size
    width, height = _scaled_size(1280, 720, 500_000, 24)
    assert height < 720 and width % 2 == 0 and height % 2 == 0
    assert width / height == pytest.approx(16 / 9, rel=0.02)
    assert 500_000 / (width * height * 24) >= 0.06 or height <= 240
    assert _scaled_size(1280, 720, 10_000, 24)[1] >= 230  # never below about 240 lines


def test_budget_too_small_for_a_watchable_copy_gives_none_and_no_file(clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "fit.mp4"
    assert fit_to_size(clip, target, 20_000) is None
    assert not target.exists()


def test_unreadable_input_gives_none(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"not a video")
    assert fit_to_size(bogus, tmp_path / "fit.mp4", 1_000_000) is None
