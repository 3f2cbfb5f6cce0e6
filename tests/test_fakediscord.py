"""Self-tests of the fake Discord: a minimal real discord.py bot logs in, syncs and answers interactions."""

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import (
    EPHEMERAL,
    TOKEN_LIFETIME,
    FakeDiscord,
    autocomplete,
    component_click,
    modal_submit,
    slash_command,
)
from tests.plugins.fake_discord import start_client, stop_client

MIB = 1024 * 1024


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput["FeedbackModal"] = discord.ui.TextInput(label="Text", custom_id="feedback:text")

    def __init__(self) -> None:
        super().__init__(custom_id="feedback")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class ClipView(discord.ui.View):
    """Persistent: registered in setup_hook, so clicks on messages from earlier runs still work."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Again", custom_id="clip:again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button["ClipView"]) -> None:
        await interaction.response.send_message(f"again for {interaction.user.name}", ephemeral=True)

    @discord.ui.button(label="Done", custom_id="clip:done")
    async def done(self, interaction: discord.Interaction, button: discord.ui.Button["ClipView"]) -> None:
        await interaction.response.edit_message(content="finished", view=None)


class Clips(commands.Cog):
    def __init__(self, bot: "MiniBot") -> None:
        self.bot = bot

    @app_commands.command(description="Generate a clip")
    async def generate(
        self,
        interaction: discord.Interaction,
        prompt: str,
        seconds: app_commands.Range[int, 1, 20],
        quality: Literal["draft", "final"],
        reference: discord.Attachment | None = None,
    ) -> None:
        size = len(await reference.read()) if reference else 0
        await interaction.response.send_message(f"{prompt}|{seconds}|{quality}|{size}")

    @generate.autocomplete("prompt")
    async def prompt_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f"{current} at dusk", value=f"{current} at dusk")]

    @app_commands.command(description="Defer, edit the original, send the clip as a followup")
    async def render(self, interaction: discord.Interaction, size: int) -> None:
        await interaction.response.defer()
        try:
            await interaction.edit_original_response(content="rendering")
            clip = discord.File(io.BytesIO(b"v" * size), "clip.mp4")
            message = await interaction.followup.send("done", file=clip, wait=True)
        except discord.HTTPException as exc:
            self.bot.report("render", exc)
        else:
            self.bot.report("render", message)

    @app_commands.command(description="Post the clip into the channel with the bot token")
    async def post(self, interaction: discord.Interaction, size: int) -> None:
        await interaction.response.send_message("posting", ephemeral=True)
        assert isinstance(interaction.channel, discord.TextChannel)
        try:
            message = await interaction.channel.send("clip", file=discord.File(io.BytesIO(b"p" * size), "clip.mp4"))
        except discord.HTTPException as exc:
            self.bot.report("post", exc)
        else:
            self.bot.report("post", message)

    @app_commands.command(description="Open the feedback form")
    async def feedback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())


class MiniBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned, intents=discord.Intents.default(), guild_ready_timeout=0.05
        )
        self.outcomes: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.resumed = asyncio.Event()

    async def setup_hook(self) -> None:
        await self.add_cog(Clips(self))
        self.add_view(ClipView())

    async def on_resumed(self) -> None:
        self.resumed.set()

    def report(self, command: str, result: Any) -> None:
        self.outcomes.put_nowait((command, result))

    async def outcome(self, command: str) -> Any:
        name, result = await asyncio.wait_for(self.outcomes.get(), 5)
        assert name == command
        return result


@pytest.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[MiniBot]:
    client = MiniBot()
    task = await start_client(client, fake_discord)
    yield client
    await stop_client(client, task)


async def callback_of(fake: FakeDiscord, interaction_id: int) -> Any:
    record = await fake.wait_for_request("POST", "/callback", interaction_id=interaction_id)
    return record.json


# ------------------------------------------------------------------------------------------- login and sync


async def test_login_identify_and_guild_cache(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    world = fake_discord.world
    assert [r.path for r in fake_discord.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert fake_discord.requests[0].headers["Authorization"] == "Bot fake-token"
    assert fake_discord.identifies[0]["intents"] == discord.Intents.default().value
    assert bot.user is not None and bot.user.id == world.bot_user.id
    assert bot.application_id == world.application.id

    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Test Guild"
    assert [c.name for c in guild.text_channels] == ["general"]
    assert guild.filesize_limit == 10 * MIB
    assert guild.me.guild_permissions.attach_files
    assert guild.get_member(world.guild.member("mod").id) is None  # no members intent: only the bot is cached
    mod = await guild.fetch_member(world.guild.member("mod").id)
    assert mod.guild_permissions.manage_guild
    assert not fake_discord.unexpected_requests


async def test_premium_tier_sets_guild_filesize_limit(fake_discord: FakeDiscord) -> None:
    fake_discord.world.guild.premium_tier = 2
    client = MiniBot()
    task = await start_client(client, fake_discord)
    try:
        guild = client.get_guild(fake_discord.world.guild.id)
        assert guild is not None and guild.filesize_limit == 50 * MIB
    finally:
        await stop_client(client, task)


async def test_sync_payload_is_recorded_and_echoed(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    synced = await bot.tree.sync()

    payload = {c["name"]: c for c in fake_discord.synced_commands()}
    assert set(payload) == {"generate", "render", "post", "feedback"}
    options = {o["name"]: o for o in payload["generate"]["options"]}
    assert options["seconds"].items() >= {"type": 4, "min_value": 1, "max_value": 20, "required": True}.items()
    assert options["quality"]["choices"] == [{"name": "draft", "value": "draft"}, {"name": "final", "value": "final"}]
    assert options["reference"]["type"] == 11 and not options["reference"].get("required", False)
    assert options["prompt"]["autocomplete"] is True
    assert {c.id for c in synced} == {int(c["id"]) for c in fake_discord.registered_commands[None]}
    assert {c.id for c in await bot.tree.fetch_commands()} == {c.id for c in synced}

    guild = discord.Object(fake_discord.world.guild.id)
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)
    assert fake_discord.find("PUT", f"/guilds/{guild.id}/commands")
    assert {c["name"] for c in fake_discord.synced_commands(guild.id)} == set(payload)


# ----------------------------------------------------------------------------------------------- interactions


async def test_slash_command_options_and_attachment_download(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    reference = fake_discord.add_attachment("ref.png", b"\x89PNG0123")
    options = {"prompt": "cat", "seconds": 5, "quality": "final"}
    iid = await fake_discord.send_interaction(slash_command("generate", options, attachments={"reference": reference}))

    callback = await callback_of(fake_discord, iid)
    assert callback["type"] == 4
    assert callback["data"]["content"] == "cat|5|final|8"
    assert fake_discord.find("GET", f"/attachments/{reference.id}/ref.png")[0].status == 200
    stored = fake_discord.channel_messages(fake_discord.world.guild.channel("general").id)
    assert [m.content for m in stored] == ["cat|5|final|8"]
    assert stored[0].interaction_id == iid


async def test_defer_edit_original_and_followup_with_file(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    iid = await fake_discord.send_interaction(slash_command("render", {"size": 1234}))
    message = await bot.outcome("render")

    requests = fake_discord.interaction_requests(iid)
    assert requests[0].path.endswith("/callback") and requests[0].json == {"type": 5}
    assert requests[0].query["with_response"] == "1"
    edit = fake_discord.find("PATCH", "/messages/@original")[0]
    assert edit.interaction_id == iid and edit.json["content"] == "rendering"

    followup = fake_discord.find("POST", "/webhooks/")[0]
    assert [(p.name, p.filename) for p in followup.parts] == [("payload_json", None), ("files[0]", "clip.mp4")]
    assert followup.files[0].size == 1234
    assert followup.payload["attachments"] == [{"id": 0, "filename": "clip.mp4"}]

    original, clip = fake_discord.interaction_messages(iid)
    assert (original.content, original.loading) == ("rendering", False)
    assert clip.attachments[0].size == 1234 and clip.attachments[0].content_type == "video/mp4"
    assert isinstance(message, discord.WebhookMessage)
    assert await message.attachments[0].read() == b"v" * 1234


async def test_followup_upload_over_interaction_limit_is_413(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    await fake_discord.send_interaction(slash_command("render", {"size": 2048}, attachment_size_limit=1024))
    error = await bot.outcome("render")
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (413, 40005)


async def test_channel_upload_over_guild_limit_is_413(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    fake_discord.world.guild.max_upload_bytes = 100
    await fake_discord.send_interaction(slash_command("post", {"size": 101}))
    error = await bot.outcome("post")
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (413, 40005)
    assert fake_discord.find("POST", "/channels/")[0].files[0].size == 101


async def test_expired_token_gives_401_50027(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    iid = await fake_discord.send_interaction(slash_command("render", {"size": 10}, age=TOKEN_LIFETIME + 60))
    error = await bot.outcome("render")
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (401, 50027)
    assert [r.status for r in fake_discord.interaction_requests(iid)] == [200, 401]


async def test_expire_interaction_knob_applies_to_token_routes(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    payload = slash_command("render", {"size": 10})
    await fake_discord.send_interaction(payload)
    await bot.outcome("render")
    fake_discord.expire_interaction(int(payload["id"]))

    url = f"{fake_discord.rest_base}/webhooks/{payload['application_id']}/{payload['token']}/messages/@original"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 401
        assert response.headers["Content-Type"] == "application/json"
        assert await response.json() == {"message": "Invalid Webhook Token", "code": 50027}


async def test_429_with_via_is_retried_then_succeeds(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    fake_discord.rate_limit(r"^/channels/\d+/messages$", count=1, retry_after=0.05)
    await fake_discord.send_interaction(slash_command("post", {"size": 10}))
    message = await bot.outcome("post")

    assert isinstance(message, discord.Message)
    posts = fake_discord.find("POST", "/messages")
    assert [r.status for r in posts] == [429, 200]
    assert posts[0].response["retry_after"] == 0.05
    assert [m.content for m in fake_discord.channel_messages(message.channel.id, include_ephemeral=False)] == ["clip"]


async def test_429_without_via_is_not_retried(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    fake_discord.rate_limit(r"^/channels/\d+/messages$", count=1, via=False)
    await fake_discord.send_interaction(slash_command("post", {"size": 10}))
    error = await bot.outcome("post")
    assert isinstance(error, discord.HTTPException) and error.status == 429
    assert len(fake_discord.find("POST", "/messages")) == 1


async def test_delay_rule_applies_to_matching_requests_only(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    rule = fake_discord.delay(r"/callback$", 0.01, count=1)
    await fake_discord.send_interaction(slash_command("render", {"size": 1}))
    await bot.outcome("render")
    assert rule.remaining == 0
    assert [r.status for r in fake_discord.find("POST", "/callback")] == [200]


async def test_deleted_and_forbidden_channels(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    general = fake_discord.world.guild.channel("general")
    fake_discord.forbid_channel(general.id)
    await fake_discord.send_interaction(slash_command("post", {"size": 10}))
    forbidden = await bot.outcome("post")
    assert isinstance(forbidden, discord.Forbidden) and forbidden.code == 50013

    fake_discord.delete_channel(general.id)
    await fake_discord.send_interaction(slash_command("post", {"size": 10}))
    missing = await bot.outcome("post")
    assert isinstance(missing, discord.NotFound) and missing.code == 10003


async def test_autocomplete_modal_and_persistent_view(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    typing = autocomplete("generate", {"prompt": "sun", "seconds": 3}, focused="prompt")
    iid = await fake_discord.send_interaction(typing)
    choices = (await callback_of(fake_discord, iid))["data"]["choices"]
    assert choices == [{"name": "sun at dusk", "value": "sun at dusk"}]

    iid = await fake_discord.send_interaction(slash_command("feedback"))
    modal = await callback_of(fake_discord, iid)
    assert (modal["type"], modal["data"]["custom_id"]) == (9, "feedback")
    iid = await fake_discord.send_interaction(modal_submit("feedback", {"feedback:text": "great"}))
    reply = await callback_of(fake_discord, iid)
    assert reply["data"]["content"] == "thanks: great" and reply["data"]["flags"] == EPHEMERAL

    iid = await fake_discord.send_interaction(component_click("clip:again"))
    assert (await callback_of(fake_discord, iid))["data"]["content"] == "again for alice"

    iid = await fake_discord.send_interaction(component_click("clip:done"))
    assert (await callback_of(fake_discord, iid))["type"] == 7
    clicked = fake_discord.message(fake_discord.interactions[iid].original_message_id or 0)
    assert clicked is not None and (clicked.content, clicked.components) == ("finished", [])


async def test_second_callback_is_rejected_as_already_acknowledged(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    payload = slash_command("generate", {"prompt": "a", "seconds": 1, "quality": "draft"})
    await fake_discord.send_interaction(payload)
    await fake_discord.wait_for_request("POST", "/callback")
    url = f"{fake_discord.rest_base}/interactions/{payload['id']}/{payload['token']}/callback"
    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 4, "data": {}}) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 40060


# ------------------------------------------------------------------------------------------ channels and DMs


async def test_channel_history_and_dm(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(fake_discord.world.guild.channel("general").id)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("m1")
    await channel.send("m2")
    await channel.send("m3")
    assert [m.content async for m in channel.history(limit=2)] == ["m3", "m2"]
    assert [m.content async for m in channel.history(after=first, oldest_first=True)] == ["m2", "m3"]

    alice = fake_discord.world.guild.member("alice")
    user = await bot.fetch_user(alice.id)
    await user.send("hello alice")
    dm = fake_discord.world.dm_channels[alice.id]
    assert [m.content for m in fake_discord.channel_messages(dm.id)] == ["hello alice"]

    in_dm = slash_command(
        "generate", {"prompt": "d", "seconds": 1, "quality": "draft"}, world=fake_discord.world, channel=dm
    )
    assert "guild_id" not in in_dm and in_dm["user"]["id"] == str(alice.id)
    await fake_discord.send_interaction(in_dm)
    await fake_discord.wait_for_request("POST", "/callback")
    assert [m.content for m in fake_discord.channel_messages(dm.id)] == ["hello alice", "d|1|draft|0"]


async def test_unknown_route_is_404_and_recorded(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    with pytest.raises(discord.NotFound) as excinfo:
        await bot.fetch_guild(fake_discord.world.guild.id)
    assert excinfo.value.code == 0 and excinfo.value.text == "404: Not Found"
    assert [r.path for r in fake_discord.unexpected_requests] == [f"/guilds/{fake_discord.world.guild.id}"]


async def test_token_knob_rejects_wrong_bot_token(fake_discord: FakeDiscord) -> None:
    fake_discord.token = "right-token"
    with pytest.raises(discord.LoginFailure):
        await start_client(MiniBot(), fake_discord, token="wrong-token")
    assert fake_discord.requests[0].status == 401


def test_patched_context_manager_restores_discord() -> None:
    fake = FakeDiscord()
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    with fake.patched():
        assert fake.rest_base == discord.http.Route.BASE
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
    assert before == (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)


async def test_wait_for_times_out_without_match(fake_discord: FakeDiscord) -> None:
    with pytest.raises(TimeoutError):
        await fake_discord.wait_for(lambda r: r.method == "DELETE", timeout=0.05)


# ------------------------------------------------------------------------------------------------ gateway


async def test_restarted_client_identifies_again_and_works(fake_discord: FakeDiscord) -> None:
    first = MiniBot()
    await stop_client(first, await start_client(first, fake_discord))

    second = MiniBot()
    task = await start_client(second, fake_discord)
    try:
        assert len(fake_discord.identifies) == 2
        iid = await fake_discord.send_interaction(component_click("clip:again"))
        assert (await callback_of(fake_discord, iid))["data"]["content"] == "again for alice"
    finally:
        await stop_client(second, task)


async def test_server_side_close_resumes_the_session(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    sequence = bot.ws.sequence
    assert sequence is not None
    await fake_discord.close_connections(code=4000)
    await asyncio.wait_for(bot.resumed.wait(), 5)
    assert bot.ws.sequence == sequence + 1  # RESUMED continues the session's sequence

    assert len(fake_discord.identifies) == 1
    assert fake_discord.resumes[0]["session_id"] == bot.ws.session_id
    command = slash_command("generate", {"prompt": "b", "seconds": 2, "quality": "draft"})
    iid = await fake_discord.send_interaction(command)
    assert (await callback_of(fake_discord, iid))["data"]["content"] == "b|2|draft|0"
