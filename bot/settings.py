"""Settings from the environment and ``.env``, built once in ``main()`` and passed in.

Nothing here runs at import time.  Secrets are ``SecretStr`` so they never appear in a repr, a
log line or an error message.  :func:`load_settings` turns any problem into :class:`SettingsError`
whose text names the setting (by its environment variable) in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.catalog import Catalog, CatalogError, load_catalog
from bot.quotas import QuotaDefaults


class SettingsError(Exception):
    """A setting is missing or invalid.  ``str(exc)`` is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- Discord
    discord_token: SecretStr | None = None
    discord_dev_guild_id: int | None = Field(default=None, description="guild to sync commands to instantly")

    # --- provider
    video_provider: Literal["openai", "simulator"] = "simulator"
    video_api_base_url: str | None = None
    video_api_key: SecretStr | None = None
    video_api_auth_header: str = "Authorization"
    video_catalog_file: Path | None = None
    video_request_timeout_seconds: float = Field(default=60.0, gt=0)
    video_max_retries: int = Field(default=3, ge=0, le=10)
    provider_max_concurrent_jobs: int | None = Field(default=8, ge=1)  # jobs rendering at once, bot-wide
    provider_requests_per_minute: int | None = Field(default=None, ge=1)  # create calls per minute, bot-wide

    # --- built-in simulator (used when VIDEO_PROVIDER=simulator)
    simulator_job_seconds: float = Field(default=20.0, ge=0)
    simulator_failure_rate: float = Field(default=0.0, ge=0, le=1)
    simulator_fps: int = Field(default=12, ge=1, le=60)

    # --- content rules
    moderation_enabled: bool = False
    moderation_base_url: str | None = None  # default: the video provider's base URL
    moderation_api_key: SecretStr | None = None  # default: VIDEO_API_KEY
    moderation_model: str = "omni-moderation-latest"
    moderation_timeout_seconds: float = Field(default=5.0, gt=0)
    moderation_fail_open: bool = False
    refusal_cooldown_count: int = Field(default=3, ge=0)
    refusal_cooldown_window_seconds: float = Field(default=600.0, gt=0)
    refusal_cooldown_seconds: float = Field(default=900.0, ge=0)

    # --- quotas: defaults for a guild that has set none of its own (None = unlimited), and a bot-wide cap
    quota_user_jobs_per_day: int | None = Field(default=3, ge=0)
    quota_user_seconds_per_day: int | None = Field(default=24, ge=0)
    quota_user_usd_per_day: float | None = Field(default=None, ge=0)
    quota_guild_usd_per_day: float | None = Field(default=10.0, ge=0)
    quota_guild_usd_per_month: float | None = Field(default=100.0, ge=0)
    quota_max_concurrent_per_user: int | None = Field(default=1, ge=1)
    quota_max_concurrent_per_guild: int | None = Field(default=5, ge=1)
    quota_user_cooldown_seconds: float = Field(default=0.0, ge=0)
    daily_spend_cap_usd: float | None = Field(default=None, ge=0)

    # --- storage and tracking
    database_path: Path = Path("data/reelbot.db")
    media_dir: Path = Path("data/media")
    poll_interval_seconds: float = Field(default=10.0, gt=0)
    progress_edit_interval_seconds: float = Field(default=5.0, ge=0)
    max_concurrent_downloads: int = Field(default=2, ge=1)
    default_upload_limit_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("video_api_base_url", "moderation_base_url")
    @classmethod
    def _base_url_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def catalog(self) -> Catalog:
        try:
            return load_catalog(self.video_catalog_file)
        except CatalogError as exc:
            raise SettingsError(f"VIDEO_CATALOG_FILE: {exc}") from exc

    def quota_defaults(self) -> QuotaDefaults:
        return QuotaDefaults(
            user_jobs_per_day=self.quota_user_jobs_per_day,
            user_seconds_per_day=self.quota_user_seconds_per_day,
            user_usd_per_day=self.quota_user_usd_per_day,
            guild_usd_per_day=self.quota_guild_usd_per_day,
            guild_usd_per_month=self.quota_guild_usd_per_month,
            max_concurrent_per_user=self.quota_max_concurrent_per_user,
            max_concurrent_per_guild=self.quota_max_concurrent_per_guild,
            user_cooldown_seconds=self.quota_user_cooldown_seconds,
        )

    def require_discord_token(self) -> SecretStr:
        if self.discord_token is None or not self.discord_token.get_secret_value().strip():
            raise SettingsError("DISCORD_TOKEN is not set: put the bot token in .env or the environment.")
        return self.discord_token

    def require_provider(self) -> None:
        """Check the provider settings that only matter for the real protocol."""
        if self.video_provider != "openai":
            return
        if self.video_api_base_url is None:
            raise SettingsError(
                "VIDEO_API_BASE_URL is not set: with VIDEO_PROVIDER=openai it must name the gateway, "
                "e.g. https://my-litellm.example/v1"
            )
        if self.video_api_key is None or not self.video_api_key.get_secret_value().strip():
            raise SettingsError("VIDEO_API_KEY is not set: with VIDEO_PROVIDER=openai the provider needs a key.")


def load_settings(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """Build settings, turning a validation failure into one readable line naming the variable."""
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg,arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        # Never echo the input: it may be a secret.
        raise SettingsError(f"{name}: {first['msg']}") from None
    settings.catalog()  # validate the catalog file early
    return settings
