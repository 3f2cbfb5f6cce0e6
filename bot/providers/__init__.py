"""Video providers: the OpenAI-compatible /v1/videos protocol and what it returns."""

from bot.providers.base import (
    AuthenticationError,
    CreateUncertainError,
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
    "CreateUncertainError",
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
