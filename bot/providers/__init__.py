"""Video providers: the OpenAI-compatible /v1/videos protocol and what it returns."""

from bot.providers.base import (
    AuthenticationError,
    InvalidRequestError,
    ModerationBlockedError,
    NotFoundError,
    NotSupportedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ServerError,
    Video,
    VideoError,
    VideoList,
    VideoStatus,
)

__all__ = [
    "AuthenticationError",
    "InvalidRequestError",
    "ModerationBlockedError",
    "NotFoundError",
    "NotSupportedError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ServerError",
    "Video",
    "VideoError",
    "VideoList",
    "VideoStatus",
]
