"""The command line (`check`, `simulator`) as a user runs it, and secret masking in logs."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.logs import MASK, RedactSecrets, setup_logging
from bot.media import probe_video
from bot.providers.openai import VideosClient

REPO = Path(__file__).resolve().parents[1]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(REPO), **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_check_with_builtin_simulator_prints_catalog(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "provider answered" in result.stdout
    assert "sora-2-pro" in result.stdout and "$0.30 / $0.50 per second" in result.stdout


def test_check_against_unreachable_provider_fails_with_reason(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        cwd=tmp_path,
        env=cli_env(
            tmp_path,
            VIDEO_PROVIDER="openai",
            VIDEO_API_BASE_URL=f"http://127.0.0.1:{port}/v1",
            VIDEO_API_KEY="unit-test-secret-key-value",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "provider check failed" in result.stderr
    assert "unit-test-secret-key-value" not in result.stderr + result.stdout


def test_check_with_wrong_key_says_so(tmp_path: Path) -> None:
    async def run() -> subprocess.CompletedProcess[str]:
        from bot.simulator import SimulatorConfig, SimulatorServer

        async with SimulatorServer(SimulatorConfig(api_key="the-right-key")) as server:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "check",
                cwd=tmp_path,
                env=cli_env(
                    tmp_path,
                    VIDEO_PROVIDER="openai",
                    VIDEO_API_BASE_URL=server.base_url,
                    VIDEO_API_KEY="a-wrong-key-value",
                ),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            return subprocess.CompletedProcess([], proc.returncode or 0, out.decode(), err.decode())

    result = asyncio.run(run())
    assert result.returncode == 1 and "401" in result.stderr
    assert "a-wrong-key-value" not in result.stderr + result.stdout


async def test_simulator_command_serves_a_playable_video(tmp_path: Path) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "simulator",
        "--port",
        str(port),
        "--job-seconds",
        "0.3",
        cwd=tmp_path,
        env=cli_env(tmp_path, SIMULATOR_FPS="6"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert f"http://127.0.0.1:{port}/v1" in banner
        async with aiohttp.ClientSession() as session:
            client = VideosClient(session, f"http://127.0.0.1:{port}/v1", None)
            video = await client.create(prompt="a lighthouse at night", model="sora-2", size="1280x720", seconds=4)
            for _ in range(100):
                video = await client.retrieve(video.id)
                if video.status.terminal:
                    break
                await asyncio.sleep(0.05)
            assert video.status == "completed"
            size = await client.download(video.id, tmp_path / "out.mp4")
        info = probe_video(tmp_path / "out.mp4")
        assert size > 0 and (info.width, info.height, info.codec) == (1280, 720, "h264")
        assert info.frames == 4 * 6
    finally:
        proc.terminate()
        await proc.wait()


def test_redaction_masks_secrets_in_messages_arguments_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    secret = "MTk4NjIyNDgzNDcxOTI1MjQ4.Gabcde.token-value-123"
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactSecrets([secret, "short"]))
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("connecting with %s", secret)
        try:
            raise RuntimeError(f"login failed for {secret}")
        except RuntimeError:
            logger.exception("boom")
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert secret not in text and text.count(MASK) >= 2
    assert "short" not in RedactSecrets([secret, "short"]).secrets  # too short to mask safely


def test_setup_logging_installs_the_filter(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [SecretStr("another-secret-key-value"), None])
    logging.getLogger("bot.anything").warning("key is another-secret-key-value")
    err = capsys.readouterr().err
    assert "another-secret-key-value" not in err and MASK in err
    logging.getLogger().handlers.clear()


def test_redaction_masks_tokens_nobody_configured(caplog: pytest.LogCaptureFixture) -> None:
    interaction_token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpmYWtlLXRva2VuLXZhbHVlLXh5eg"
    # Shaped like real credentials, assembled at run time so no credential-shaped literal is committed.
    bearer_key = "sk" + "-live-" + "abcdefghijklmnop"
    bot_token = "MTk4NjIyNDgzNDcxOTI1MjQ4" + "." + "Cl2FMQ" + "." + "ZnCjm1XVW7vRze4b7Cq4se7kKWs"
    logger = logging.getLogger("test.redaction.patterns")
    logger.addFilter(RedactSecrets([]))
    with caplog.at_level(logging.DEBUG, logger="test.redaction.patterns"):
        logger.debug("PATCH https://discord.com/api/v10/webhooks/1234567/%s/messages/@original", interaction_token)
        logger.debug("POST /interactions/98765/%s/callback", interaction_token)
        logger.debug("header Authorization: Bearer %s", bearer_key)
        logger.debug("token %s used", bot_token)
        logger.debug("job 42 finished in 12 s")  # ordinary text is left alone
    lines = [r.getMessage() for r in caplog.records]
    assert not any(interaction_token in line for line in lines)
    assert "/webhooks/1234567/[redacted]/messages/@original" in lines[0]
    assert bearer_key not in lines[2] and bot_token not in lines[3] and MASK in lines[3]
    assert lines[4] == "job 42 finished in 12 s"
