"""The model catalog: which models exist, their sizes, durations and price per generated second.

The catalog is configuration, never a constant: the Sora 2 catalog below is only the default.  An
operator replaces it with a TOML or JSON file (``VIDEO_CATALOG_FILE``) shaped like::

    [[models]]
    id = "sora-2"
    label = "Sora 2"
    sizes = ["1280x720", "720x1280"]
    seconds = [4, 8, 12]
    price_usd_per_second = 0.10            # or a table per size: { "1280x720" = 0.10 }
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator


class CatalogError(ValueError):
    """The catalog file is missing, unreadable or inconsistent."""


class ModelSpec(BaseModel):
    id: str = Field(min_length=1)
    label: str = ""
    sizes: list[str] = Field(min_length=1)
    seconds: list[int] = Field(min_length=1)
    price_usd_per_second: float | dict[str, float]
    default_size: str | None = None
    default_seconds: int | None = None

    @field_validator("sizes")
    @classmethod
    def _sizes_are_wxh(cls, sizes: list[str]) -> list[str]:
        for size in sizes:
            parse_size(size)
        return sizes

    @field_validator("seconds")
    @classmethod
    def _seconds_positive(cls, seconds: list[int]) -> list[int]:
        if any(s <= 0 for s in seconds):
            raise ValueError("seconds must be positive")
        return sorted(set(seconds))

    @model_validator(mode="after")
    def _defaults_and_prices(self) -> ModelSpec:
        if not self.label:
            self.label = self.id
        if self.default_size is None:
            self.default_size = self.sizes[0]
        if self.default_seconds is None:
            self.default_seconds = self.seconds[0]
        if self.default_size not in self.sizes:
            raise ValueError(f"default_size {self.default_size!r} is not one of {self.sizes}")
        if self.default_seconds not in self.seconds:
            raise ValueError(f"default_seconds {self.default_seconds} is not one of {self.seconds}")
        if isinstance(self.price_usd_per_second, dict):
            missing = [s for s in self.sizes if s not in self.price_usd_per_second]
            if missing:
                raise ValueError(f"price_usd_per_second has no price for sizes {missing}")
        return self

    def price_per_second(self, size: str) -> float:
        if isinstance(self.price_usd_per_second, dict):
            return self.price_usd_per_second[size]
        return self.price_usd_per_second


class Catalog(BaseModel):
    models: list[ModelSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        ids = [m.id for m in self.models]
        if len(ids) != len(set(ids)):
            raise ValueError("model ids must be unique")
        return self

    @property
    def default_model(self) -> ModelSpec:
        return self.models[0]

    def get(self, model_id: str) -> ModelSpec | None:
        return next((m for m in self.models if m.id == model_id), None)

    def validate_request(self, model_id: str, size: str, seconds: int) -> str | None:
        """Return a user-facing sentence naming what is wrong, or None when the request fits."""
        spec = self.get(model_id)
        if spec is None:
            names = ", ".join(m.id for m in self.models)
            return f"Model `{model_id}` is not offered here. Choose one of: {names}."
        if size not in spec.sizes:
            return f"`{spec.id}` cannot render {size}. Sizes for it: {', '.join(spec.sizes)}."
        if seconds not in spec.seconds:
            allowed = ", ".join(str(s) for s in spec.seconds)
            return f"`{spec.id}` cannot render {seconds} s. Lengths for it: {allowed} seconds."
        return None

    def price_usd(self, model_id: str, size: str, seconds: int) -> float:
        spec = self.get(model_id)
        if spec is None:
            raise KeyError(model_id)
        return round(spec.price_per_second(size) * seconds, 6)


def parse_size(size: str) -> tuple[int, int]:
    """``"1280x720"`` → ``(1280, 720)``; raises ValueError for anything else."""
    parts = size.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"size {size!r} is not WIDTHxHEIGHT")
    width, height = int(parts[0]), int(parts[1])
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ValueError(f"size {size!r} is out of range")
    return width, height


DEFAULT_CATALOG = Catalog(
    models=[
        ModelSpec(
            id="sora-2",
            label="Sora 2",
            sizes=["1280x720", "720x1280"],
            seconds=[4, 8, 12],
            price_usd_per_second=0.10,
        ),
        ModelSpec(
            id="sora-2-pro",
            label="Sora 2 Pro",
            sizes=["1280x720", "720x1280", "1792x1024", "1024x1792"],
            seconds=[4, 8, 12],
            price_usd_per_second={"1280x720": 0.30, "720x1280": 0.30, "1792x1024": 0.50, "1024x1792": 0.50},
        ),
    ]
)


def load_catalog(path: Path | None) -> Catalog:
    """Load a catalog from a TOML or JSON file, or return the default Sora 2 catalog."""
    if path is None:
        return DEFAULT_CATALOG
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode()) if path.suffix.lower() == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from exc
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(f"{path}: {where}: {first['msg']}") from exc
