"""The model catalog and the settings: defaults, operator files, and one-line errors naming the variable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.catalog import DEFAULT_CATALOG, CatalogError, load_catalog
from bot.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_default_catalog_is_sora_2_with_prices() -> None:
    assert [m.id for m in DEFAULT_CATALOG.models] == ["sora-2", "sora-2-pro"]
    assert DEFAULT_CATALOG.price_usd("sora-2", "1280x720", 8) == pytest.approx(0.80)
    assert DEFAULT_CATALOG.price_usd("sora-2-pro", "1792x1024", 12) == pytest.approx(6.0)


def test_validate_request_names_what_is_wrong() -> None:
    assert DEFAULT_CATALOG.validate_request("sora-2", "1280x720", 4) is None
    assert "Sizes for it: 1280x720, 720x1280" in DEFAULT_CATALOG.validate_request("sora-2", "1792x1024", 4)
    assert "Lengths for it: 4, 8, 12" in DEFAULT_CATALOG.validate_request("sora-2", "1280x720", 10)
    assert "not offered" in DEFAULT_CATALOG.validate_request("veo-9", "1280x720", 4)


def test_operator_catalog_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        '[[models]]\nid = "veo-3.1-fast"\nlabel = "Veo 3.1 Fast"\nsizes = ["1280x720"]\nseconds = [8, 4]\n'
        "price_usd_per_second = 0.15\n"
    )
    catalog = load_catalog(path)
    assert catalog.default_model.id == "veo-3.1-fast"
    assert catalog.default_model.seconds == [4, 8]
    assert catalog.price_usd("veo-3.1-fast", "1280x720", 8) == pytest.approx(1.2)


def test_operator_catalog_from_json_with_price_table(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "id": "gen4_turbo",
                        "sizes": ["1280x720", "720x1280"],
                        "seconds": [5, 10],
                        "price_usd_per_second": {"1280x720": 0.05, "720x1280": 0.05},
                    }
                ]
            }
        )
    )
    assert load_catalog(path).price_usd("gen4_turbo", "720x1280", 10) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[[models]]\nid = "x"\nsizes = ["big"]\nseconds = [4]\nprice_usd_per_second = 1\n', "WIDTHxHEIGHT"),
        (
            '[[models]]\nid = "x"\nsizes = ["1280x720", "720x1280"]\nseconds = [4]\n'
            'price_usd_per_second = {"1280x720" = 1.0}\n',
            "no price for sizes",
        ),
        ("models = [", "not valid TOML"),
    ],
)
def test_bad_catalog_files_say_why(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=fragment):
        load_catalog(path)


def test_settings_errors_name_the_variable_and_hide_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "-3")
    with pytest.raises(SettingsError, match=r"^POLL_INTERVAL_SECONDS: "):
        load_settings(None)
    monkeypatch.delenv("POLL_INTERVAL_SECONDS")
    monkeypatch.setenv("VIDEO_API_BASE_URL", "ftp://sekrit-value-123")
    with pytest.raises(SettingsError) as info:
        load_settings(None)
    assert str(info.value).startswith("VIDEO_API_BASE_URL: ") and "sekrit-value-123" not in str(info.value)


def test_openai_provider_needs_base_url_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(None, video_provider="openai")
    with pytest.raises(SettingsError, match=r"^VIDEO_API_BASE_URL"):
        settings.require_provider()
    settings = load_settings(None, video_provider="openai", video_api_base_url="https://gw.example/v1/")
    assert settings.video_api_base_url == "https://gw.example/v1"
    with pytest.raises(SettingsError, match=r"^VIDEO_API_KEY"):
        settings.require_provider()


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings(None, discord_token="MTIz.discord-token-value", video_api_key="sk-test-key-value")
    assert "discord-token-value" not in repr(settings) and "sk-test-key-value" not in repr(settings)


def _run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_run_without_token_fails_with_one_line(tmp_path: Path) -> None:
    result = _run_cli(["run"], tmp_path, PYTHONPATH=str(REPO))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0]


def test_cli_bad_setting_exits_2_naming_it(tmp_path: Path) -> None:
    result = _run_cli(["run"], tmp_path, PYTHONPATH=str(REPO), DISCORD_TOKEN="x", VIDEO_PROVIDER="sora")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("configuration error: VIDEO_PROVIDER")


def test_cli_catalog_file_error_names_setting(tmp_path: Path) -> None:
    result = _run_cli(["check"], tmp_path, PYTHONPATH=str(REPO), VIDEO_CATALOG_FILE=str(tmp_path / "none.toml"))
    assert result.returncode == 2 and "VIDEO_CATALOG_FILE" in result.stderr


def test_shipped_example_catalog_loads() -> None:
    catalog = load_catalog(REPO / "catalog.example.toml")
    assert catalog.models == DEFAULT_CATALOG.models
