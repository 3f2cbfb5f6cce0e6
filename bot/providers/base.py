"""The Video object of the /v1/videos protocol and the error hierarchy every provider raises.

Gateways differ from OpenAI: ids are opaque strings of any length, status strings beyond the
four official ones appear (``processing``, ``submitted``), and some fields are missing.  The model
here is therefore lenient on input and normalises status into :class:`VideoStatus`.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class VideoStatus(enum.StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @classmethod
    def parse(cls, raw: str | None) -> VideoStatus:
        """Map any provider's status string onto the four protocol states.

        Unknown non-terminal words (``processing``, ``running``, ``submitted`` …) count as in progress,
        so a gateway with its own vocabulary never stalls the tracker.
        """
        value = (raw or "").strip().lower()
        aliases = {
            "queued": cls.QUEUED,
            "pending": cls.QUEUED,
            "submitted": cls.QUEUED,
            "in_progress": cls.IN_PROGRESS,
            "processing": cls.IN_PROGRESS,
            "running": cls.IN_PROGRESS,
            "completed": cls.COMPLETED,
            "succeeded": cls.COMPLETED,
            "success": cls.COMPLETED,
            "failed": cls.FAILED,
            "error": cls.FAILED,
            "cancelled": cls.FAILED,
            "canceled": cls.FAILED,
            "expired": cls.FAILED,
        }
        return aliases.get(value, cls.IN_PROGRESS)

    @property
    def terminal(self) -> bool:
        return self in (VideoStatus.COMPLETED, VideoStatus.FAILED)


class VideoError(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = "unknown"
    message: str = "The provider reported a failure without a message."

    @field_validator("code", "message", mode="before")
    @classmethod
    def _none_to_default(cls, value: Any, info: Any) -> Any:
        if value is None:
            return "unknown" if info.field_name == "code" else "The provider reported a failure without a message."
        return str(value)


class Video(BaseModel):
    """The protocol's Video object (``object: "video"``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "video"
    model: str | None = None
    status: VideoStatus = VideoStatus.QUEUED
    progress: int = 0
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    prompt: str | None = None
    size: str | None = None
    seconds: str | None = None
    remixed_from_video_id: str | None = None
    error: VideoError | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _normalise_status(cls, value: Any) -> VideoStatus:
        return value if isinstance(value, VideoStatus) else VideoStatus.parse(value)

    @field_validator("progress", mode="before")
    @classmethod
    def _clamp_progress(cls, value: Any) -> int:
        try:
            number = int(float(value))
        except (TypeError, ValueError):
            return 0
        return max(0, min(100, number))

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds_as_text(cls, value: Any) -> str | None:
        return None if value is None else str(value)


class VideoList(BaseModel):
    model_config = ConfigDict(extra="allow")

    object: str = "list"
    data: list[Video] = Field(default_factory=list)
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


# --------------------------------------------------------------------------- errors


class ProviderError(Exception):
    """Any failure talking to the video provider.

    ``message`` is safe to show a user (it never contains a key); ``code`` is the protocol's
    ``error.code`` when the provider sent one; ``status`` the HTTP status (0 for transport errors).
    """

    retryable: bool = False
    user_hint: str = "The video provider returned an error."

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.param = param
        self.request_id = request_id

    def __str__(self) -> str:
        bits = [self.message]
        if self.status:
            bits.append(f"(HTTP {self.status}{', ' + self.code if self.code else ''})")
        return " ".join(bits)


class AuthenticationError(ProviderError):
    """401/403: the key is wrong, missing or lacks access."""

    user_hint = "The bot's video provider key was refused. A server admin needs to fix the bot's configuration."


class NotFoundError(ProviderError):
    """404: the video id is unknown, or the model is retired (``model_not_found``)."""

    user_hint = "The provider does not know this video or model any more."


class InvalidRequestError(ProviderError):
    """400/409/422: the request itself was refused."""

    user_hint = "The provider refused the request."


class ModerationBlockedError(InvalidRequestError):
    """The provider's own content moderation refused the prompt or image (``moderation_blocked``)."""

    user_hint = "The provider's content rules refused this prompt."


class NotSupportedError(ProviderError):
    """The provider or gateway does not offer this endpoint (404/405/501 on list, delete or remix)."""

    user_hint = "This provider does not offer that operation."


class RateLimitedError(ProviderError):
    """429: slow down; ``retry_after`` (seconds) when the provider said how long."""

    retryable = True
    user_hint = "The video provider is busy right now."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ProviderError):
    """5xx or a malformed answer from the provider."""

    retryable = True
    user_hint = "The video provider had an internal error."


class ProviderUnavailableError(ProviderError):
    """The provider could not be reached at all (connection refused, DNS, timeout)."""

    retryable = True
    user_hint = "The video provider could not be reached."


class CreateUncertainError(ProviderError):
    """A create or remix request had an unclear outcome and could not be reconciled.

    The request reached the provider but the answer was lost or garbled (timeout after sending,
    connection reset, a 5xx), and listing recent videos could not settle whether a job started.
    Re-sending blindly could start (and bill) a second video, so the client stops here.
    """

    user_hint = (
        "The video provider may or may not have started this video. "
        "Wait a moment and check before trying again, or a second video may be billed."
    )
