"""Re-encode a video so that it fits a byte budget (Discord's upload limit), keeping its length and sound.

The target bitrate comes from the budget and the duration; when that bitrate is too thin for the full
resolution, the picture is scaled down (never below 240 lines) rather than turned to mush. Audio is kept
as AAC at 64 kbit/s. The result is checked against the budget and re-tried once with less bitrate.
Everything here is synchronous and CPU-bound: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from bot.media import MediaError, probe_video

log = logging.getLogger(__name__)

AUDIO_BITRATE = 64_000
CONTAINER_MARGIN = 0.92  # leave room for MP4 headers and bitrate overshoot
MIN_VIDEO_BITRATE = 120_000  # below this a clip is not worth watching: fall back to the thumbnail
BITS_PER_PIXEL = 0.06  # below this, trade resolution for quality
MIN_HEIGHT = 240


@dataclass(frozen=True, slots=True)
class FitResult:
    path: Path
    size_bytes: int
    width: int
    height: int


def fit_to_size(src: Path, dest: Path, max_bytes: int) -> FitResult | None:
    """Write a copy of ``src`` at most ``max_bytes`` large to ``dest``; None when no watchable copy fits."""
    try:
        info = probe_video(src)
    except MediaError as exc:
        log.info("cannot re-encode %s: %s", src.name, exc)
        return None
    duration = max(info.duration_seconds, 0.5)
    has_audio = _has_audio(src)
    for factor in (1.0, 0.75):
        budget_bits = max_bytes * 8 * CONTAINER_MARGIN * factor
        video_bitrate = int(budget_bits / duration) - (AUDIO_BITRATE if has_audio else 0)
        if video_bitrate < MIN_VIDEO_BITRATE:
            return None
        width, height = _scaled_size(info.width, info.height, video_bitrate, info.frames / duration)
        try:
            _encode(src, dest, width, height, video_bitrate, has_audio)
        except (av.FFmpegError, OSError, ValueError) as exc:
            log.warning("re-encoding %s failed: %s", src.name, exc)
            dest.unlink(missing_ok=True)
            return None
        size = dest.stat().st_size
        if size <= max_bytes:
            return FitResult(dest, size, width, height)
        log.info("re-encode of %s came out at %d bytes (> %d); trying with less bitrate", src.name, size, max_bytes)
    dest.unlink(missing_ok=True)
    return None


def _has_audio(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def _scaled_size(width: int, height: int, bitrate: int, fps: float) -> tuple[int, int]:
    """Largest even size with the source's aspect whose bits per pixel stay above the floor."""
    fps = fps or 24.0
    scale = 1.0
    while scale > 0.1:
        w, h = _even(width * scale), _even(height * scale)
        if bitrate / (w * h * fps) >= BITS_PER_PIXEL or min(w, h) <= MIN_HEIGHT:
            return max(w, 2), max(h, 2)
        scale *= 0.85
    return _even(width * scale), _even(height * scale)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _encode(src: Path, dest: Path, width: int, height: int, video_bitrate: int, has_audio: bool) -> None:
    with av.open(str(src)) as inp, av.open(str(dest), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or Fraction(24, 1)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.bit_rate = video_bitrate
        vout.options = {
            "preset": "veryfast",
            "maxrate": str(video_bitrate),
            "bufsize": str(video_bitrate * 2),
        }
        streams: list[av.stream.Stream] = [vin]
        ain = inp.streams.audio[0] if has_audio and inp.streams.audio else None
        aout = None
        resampler = None
        if ain is not None:
            aout = out.add_stream("aac", rate=48_000)
            aout.bit_rate = AUDIO_BITRATE
            aout.layout = "stereo"
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48_000, frame_size=1024)
            streams.append(ain)
        index = 0
        for packet in inp.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    scaled = frame.reformat(width=width, height=height, format="yuv420p")
                    scaled.pts = index
                    scaled.time_base = Fraction(1, 1) / Fraction(rate)
                    index += 1
                    out.mux(vout.encode(scaled))
                elif isinstance(frame, av.AudioFrame) and aout is not None and resampler is not None:
                    frame.pts = None
                    for chunk in resampler.resample(frame):
                        out.mux(aout.encode(chunk))
        if aout is not None and resampler is not None:
            for chunk in resampler.resample(None):
                out.mux(aout.encode(chunk))
            out.mux(aout.encode(None))
        out.mux(vout.encode(None))
