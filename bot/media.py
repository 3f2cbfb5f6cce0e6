"""Small media helpers for the rest of the bot: probe a video file, recognise an image by its bytes.

Both are synchronous and cheap (``probe_video`` only demuxes, it never decodes); call ``probe_video``
through ``asyncio.to_thread`` from async code when the file may be large.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av


class MediaError(ValueError):
    """The file is missing, unreadable or holds no video stream."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration_seconds: float
    codec: str
    frames: int


def probe_video(path: str | Path) -> VideoInfo:
    """Read the first video stream's size, duration, codec name and frame count.

    The frame count comes from the container header when it has one, else from counting packets.
    Raises :class:`MediaError` for anything PyAV cannot open as a video.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{Path(path).name} has no video stream")
            stream = container.streams.video[0]
            frames = stream.frames or _count_packets(container, stream)
            return VideoInfo(
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                duration_seconds=_duration_seconds(container, stream, frames),
                codec=stream.codec_context.name,
                frames=frames,
            )
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"cannot read {Path(path).name} as a video: {exc}") from exc


def _count_packets(container: av.container.InputContainer, stream: av.VideoStream) -> int:
    return sum(1 for packet in container.demux(stream) if packet.size)


def _duration_seconds(container: av.container.InputContainer, stream: av.VideoStream, frames: int) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    rate = stream.average_rate
    return float(frames / Fraction(rate)) if rate else 0.0


_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
)


def sniff_image_type(data: bytes) -> str | None:
    """``"png"``, ``"jpeg"`` or ``"webp"`` judged by the magic bytes, else ``None``."""
    for signature, kind in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None
