"""``python -m bot run | simulator | check``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys

import aiohttp

from bot.settings import Settings, SettingsError, load_settings

EXIT_CONFIG = 2

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="reelbot — AI videos from Discord")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the Discord bot")
    sim = sub.add_parser("simulator", help="serve the local Videos API simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--job-seconds", type=float, default=None, help="render time per job (default from settings)")
    sim.add_argument("--failure-rate", type=float, default=None, help="share of jobs that fail, 0..1")
    sub.add_parser("check", help="validate settings, call the provider once, print the catalog")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
        if args.command == "run":
            settings.require_discord_token()
        if args.command in ("run", "check"):
            settings.require_provider()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    from bot.logs import setup_logging

    setup_logging(settings.log_level, [settings.discord_token, settings.video_api_key])
    with contextlib.suppress(KeyboardInterrupt):
        if args.command == "run":
            return asyncio.run(_run(settings))
        if args.command == "simulator":
            return asyncio.run(_simulator(settings, args.host, args.port, args.job_seconds, args.failure_rate))
        return asyncio.run(_check(settings))
    return 0


async def _run(settings: Settings) -> int:
    import discord

    from bot.client import ReelBot

    bot = ReelBot(settings)
    token = settings.require_discord_token().get_secret_value()
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        print("configuration error: DISCORD_TOKEN was refused by Discord (is it the bot token?)", file=sys.stderr)
        return EXIT_CONFIG
    except discord.PrivilegedIntentsRequired:
        print("configuration error: the bot asked for an intent that is not enabled in the portal", file=sys.stderr)
        return EXIT_CONFIG
    return 0


async def _simulator(
    settings: Settings, host: str, port: int, job_seconds: float | None, failure_rate: float | None
) -> int:
    from bot.simulator import SimulatorConfig, SimulatorServer

    config = SimulatorConfig(
        catalog=settings.catalog(),
        job_seconds=settings.simulator_job_seconds if job_seconds is None else job_seconds,
        failure_rate=settings.simulator_failure_rate if failure_rate is None else failure_rate,
        fps=settings.simulator_fps,
        media_dir=settings.media_dir / "simulator",
    )
    server = SimulatorServer(config)
    url = await server.start(host, port)
    print(f"Videos API simulator listening at {url}  (Ctrl-C to stop)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
    return 0


async def _check(settings: Settings) -> int:
    from bot.providers import ProviderError
    from bot.providers.openai import VideosClient

    catalog = settings.catalog()
    server = None
    base_url = settings.video_api_base_url
    if settings.video_provider == "simulator" and not base_url:
        from bot.simulator import SimulatorConfig, SimulatorServer

        server = SimulatorServer(SimulatorConfig(catalog=catalog, media_dir=settings.media_dir / "simulator"))
        base_url = await server.start("127.0.0.1", 0)
    assert base_url is not None
    print(f"provider: {settings.video_provider} at {base_url}")
    try:
        async with aiohttp.ClientSession() as session:
            client = VideosClient(
                session,
                base_url,
                settings.video_api_key,
                auth_header=settings.video_api_auth_header,
                timeout_seconds=min(settings.video_request_timeout_seconds, 20),
                max_retries=1,
            )
            try:
                models = await client.models()
            except ProviderError as exc:
                print(f"provider check failed: {exc}", file=sys.stderr)
                return 1
    finally:
        if server is not None:
            await server.stop()
    print(f"provider answered; it lists {len(models)} model(s)")
    print("catalog:")
    for spec in catalog.models:
        offered = "" if not models or spec.id in models else "   (not listed by the provider!)"
        prices = sorted({spec.price_per_second(s) for s in spec.sizes})
        price = " / ".join(f"${p:.2f}" for p in prices)
        print(f"  {spec.id:<22} {', '.join(spec.sizes):<44} {spec.seconds} s   {price} per second{offered}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
