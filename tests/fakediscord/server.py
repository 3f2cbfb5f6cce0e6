"""FakeDiscord: Discord's REST API (``/api/v10``) and gateway (``/gateway``) on 127.0.0.1 for the real discord.py.

It records every request (see ``RecordedRequest``) and every frame the client sends (``GatewayFrame``), keeps
the messages the bot posts per channel, and injects faults (413, 403, 404, 401/50027, 429, delays) on demand.
It enforces nothing Discord does beyond what is listed in README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import mimetypes
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import discord
import pytest
import yarl
from aiohttp import BodyPartReader, WSMsgType, web

from .payloads import (
    CALLBACK_WINDOW,
    DEFAULT_UPLOAD_LIMIT,
    EPHEMERAL,
    LOADING,
    TOKEN_LIFETIME,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeUser,
    World,
    snowflake,
    snowflake_time,
)

API_PREFIX = "/api/v10"
RECORDED_HEADERS = ("Authorization", "Content-Type", "User-Agent", "X-Audit-Log-Reason")
GUILD_MESSAGES_INTENT = 1 << 9
DIRECT_MESSAGES_INTENT = 1 << 12

# (status, message, code) of the Discord errors the fake produces
NOT_FOUND = (404, "404: Not Found", 0)
UNAUTHORIZED = (401, "401: Unauthorized", 0)
INVALID_FORM_BODY = (400, "Invalid Form Body", 50035)
ALREADY_ACKNOWLEDGED = (400, "Interaction has already been acknowledged.", 40060)
INVALID_WEBHOOK_TOKEN = (401, "Invalid Webhook Token", 50027)
MISSING_ACCESS = (403, "Missing Access", 50001)
MISSING_PERMISSIONS = (403, "Missing Permissions", 50013)
CANNOT_EDIT_OTHERS = (403, "Cannot edit a message authored by another user", 50005)
UNKNOWN_CHANNEL = (404, "Unknown Channel", 10003)
UNKNOWN_GUILD = (404, "Unknown Guild", 10004)
UNKNOWN_MEMBER = (404, "Unknown Member", 10007)
UNKNOWN_MESSAGE = (404, "Unknown Message", 10008)
UNKNOWN_USER = (404, "Unknown User", 10013)
UNKNOWN_WEBHOOK = (404, "Unknown Webhook", 10015)
UNKNOWN_INTERACTION = (404, "Unknown interaction", 10062)
REQUEST_TOO_LARGE = (413, "Request entity too large", 40005)

T = TypeVar("T")


class ApiError(Exception):
    """Raised inside handlers; becomes a Discord-shaped JSON error response."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(f"{status} {message} ({code})")
        self.status, self.message, self.code = status, message, code


# ----------------------------------------------------------------------------------------------------- records


@dataclass
class MultipartPart:
    name: str
    filename: str | None
    content_type: str | None
    size: int
    json: Any = None  # parsed body of the ``payload_json`` part
    data: bytes = field(default=b"", repr=False)


@dataclass
class RecordedRequest:
    index: int
    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/1/messages"
    query: dict[str, str]
    headers: dict[str, str]  # RECORDED_HEADERS present on the request
    json: Any  # JSON body, None for multipart or empty bodies
    parts: list[MultipartPart]
    received_at: float  # time.monotonic()
    interaction_id: int | None  # from the callback path, or the interaction owning the webhook token
    route: str | None  # matched route template, None for unknown routes (answered 404)
    status: int | None = None  # response status, set once answered
    response: Any = None  # response JSON body

    @property
    def payload(self) -> Any:
        """The JSON body, or the ``payload_json`` part of a multipart body."""
        if self.json is not None:
            return self.json
        return next((p.json for p in self.parts if p.name == "payload_json"), None)

    @property
    def files(self) -> list[MultipartPart]:
        return [p for p in self.parts if p.filename is not None]


@dataclass
class GatewayFrame:
    connection_id: int
    op: int
    data: Any
    received_at: float


@dataclass
class RateLimitRule:
    pattern: str
    remaining: int
    retry_after: float
    method: str | None = None
    scope: str = "user"
    is_global: bool = False
    via: bool = True


@dataclass
class DelayRule:
    pattern: str
    seconds: float
    method: str | None = None
    remaining: int | None = None  # None: forever


@dataclass
class CommandSync:
    guild_id: int | None
    payload: list[dict[str, Any]]


@dataclass
class InteractionState:
    id: int
    token: str
    payload: dict[str, Any]
    expired: bool = False
    response_type: int | None = None
    response_data: Any = None  # the callback's ``data`` (choices for 8, the modal for 9, ...)
    original_message_id: int | None = None
    message_ids: list[int] = field(default_factory=list)  # original + followups, in order
    followup_sent: bool = False

    @property
    def created_at(self) -> float:
        return snowflake_time(self.id)

    @property
    def token_expired(self) -> bool:
        return self.expired or time.time() - self.created_at > TOKEN_LIFETIME

    @property
    def channel_id(self) -> int:
        return int(self.payload.get("channel_id") or self.payload["channel"]["id"])


class _Log(Generic[T]):
    """Append-only list with event-based waiting (no polling)."""

    def __init__(self, is_complete: Callable[[T], bool] = lambda _: True) -> None:
        self.items: list[T] = []
        self._waiters: list[tuple[Callable[[T], bool], asyncio.Future[T]]] = []
        self._is_complete = is_complete

    def add(self, item: T) -> None:
        self.items.append(item)

    def notify(self, item: T) -> None:
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                if predicate(item):
                    future.set_result(item)
            except Exception as exc:  # surfaced to the waiting test, not the request handler
                future.set_exception(exc)

    async def wait_for(self, predicate: Callable[[T], bool], timeout: float, what: str) -> T:  # noqa: ASYNC109
        for item in self.items:
            if self._is_complete(item) and predicate(item):
                return item
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"no matching {what} within {timeout}s (seen {len(self.items)})") from None
        finally:
            self._waiters.remove(waiter)


@dataclass
class _Session:
    id: str
    intents: int
    shard: list[int] | None
    connection: _Connection | None
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(eq=False)
class _Connection:
    id: int
    ws: web.WebSocketResponse
    session: _Session | None = None


Handler = Callable[..., Awaitable[Any]]


@dataclass
class _Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # non-JSON body (attachment downloads)


# ---------------------------------------------------------------------------------------------------- the fake


class FakeDiscord:
    """A fake Discord on 127.0.0.1.  ``await start()``, point discord.py at it (``patch_discord``), ``await stop()``.

    Knobs (plain attributes, changeable at any time): ``max_upload_bytes`` (global per-file limit, overrides the
    guild/interaction limits), ``forbidden_channels``, ``deleted_channels``, ``rate_limits``, ``delays``,
    ``enforce_callback_window`` (callback > 3 s after the interaction → 404/10062), ``allow_resume`` (False →
    op 9 on RESUME), ``message_events`` (echo MESSAGE_CREATE/UPDATE/DELETE to clients with the intent),
    ``heartbeat_interval_ms``.
    """

    def __init__(self, world: World | None = None, *, token: str | None = None) -> None:
        self.world = world or World.default()
        self.token = token  # when set, REST calls and IDENTIFY must carry it
        self.port = 0
        # knobs
        self.max_upload_bytes: int | None = None
        self.forbidden_channels: set[int] = set()
        self.deleted_channels: set[int] = set()
        self.rate_limits: list[RateLimitRule] = []
        self.delays: list[DelayRule] = []
        self.enforce_callback_window = False
        self.allow_resume = True
        self.message_events = True
        self.heartbeat_interval_ms = 41_250
        # state
        self.interactions: dict[int, InteractionState] = {}
        self.registered_commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_syncs: list[CommandSync] = []
        self.started_clients: list[tuple[discord.Client, asyncio.Task[None]]] = []  # used by the fixtures
        self.internal_errors: list[Exception] = []  # handler crashes (bugs in the fake), answered with 400
        self._requests: _Log[RecordedRequest] = _Log(lambda r: r.status is not None)
        self._frames: _Log[GatewayFrame] = _Log()
        self._messages: dict[int, list[FakeMessage]] = {}
        self._attachments: dict[int, FakeAttachment] = {}
        self._tokens: dict[str, int] = {}
        self._sessions: dict[str, _Session] = {}
        self._connections: list[_Connection] = []
        self._connection_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._routes = [(m, re.compile(_template_regex(t)), f"{m} {t}", h) for m, t, h in self._route_table()]

    # ------------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._http)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        for conn in list(self._connections):
            await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rest_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def patch_discord(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py's REST base and default gateway at this fake (undone by monkeypatch)."""
        monkeypatch.setattr(discord.http.Route, "BASE", self.rest_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))

    @contextlib.contextmanager
    def patched(self) -> Iterator[FakeDiscord]:
        """Context-manager form of ``patch_discord`` for code without a monkeypatch fixture."""
        with pytest.MonkeyPatch.context() as monkeypatch:
            self.patch_discord(monkeypatch)
            yield self

    # ------------------------------------------------------------------------------------------- inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._requests.items)

    @property
    def unexpected_requests(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not implement (answered 404)."""
        return [r for r in self._requests.items if r.route is None]

    def find(self, method: str | None = None, path_contains: str = "") -> list[RecordedRequest]:
        return [
            r
            for r in self._requests.items
            if (method is None or r.method == method.upper()) and path_contains in r.path
        ]

    def interaction_requests(self, interaction_id: int) -> list[RecordedRequest]:
        """Requests made for one interaction (callback and token routes), in arrival order."""
        return [r for r in self._requests.items if r.interaction_id == interaction_id]

    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the helper's contract
    ) -> RecordedRequest:
        """The first answered request matching ``predicate`` (already recorded or still to come)."""
        return await self._requests.wait_for(predicate, timeout, "request")

    async def wait_for_request(
        self,
        method: str,
        path_contains: str = "",
        *,
        interaction_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        def match(r: RecordedRequest) -> bool:
            return (
                r.method == method.upper()
                and path_contains in r.path
                and (interaction_id is None or r.interaction_id == interaction_id)
            )

        return await self.wait_for(match, timeout)

    @property
    def gateway_frames(self) -> list[GatewayFrame]:
        return list(self._frames.items)

    @property
    def identifies(self) -> list[dict[str, Any]]:
        return [f.data for f in self._frames.items if f.op == 2]

    @property
    def resumes(self) -> list[dict[str, Any]]:
        return [f.data for f in self._frames.items if f.op == 6]

    async def wait_for_gateway(
        self,
        predicate: Callable[[GatewayFrame], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> GatewayFrame:
        """The first frame sent by a client matching ``predicate``; resolves after the fake answered it."""
        return await self._frames.wait_for(predicate, timeout, "gateway frame")

    def channel_messages(self, channel_id: int, *, include_ephemeral: bool = True) -> list[FakeMessage]:
        """Messages stored for a channel, oldest first (ephemeral interaction responses included by default)."""
        return [m for m in self._messages.get(channel_id, []) if include_ephemeral or not m.ephemeral]

    def message(self, message_id: int) -> FakeMessage | None:
        return next((m for ms in self._messages.values() for m in ms if m.id == message_id), None)

    def interaction_messages(self, interaction_id: int) -> list[FakeMessage]:
        state = self.interactions[interaction_id]
        return [m for mid in state.message_ids if (m := self.message(mid)) is not None]

    def synced_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """The last bulk-overwrite payload the bot sent for a scope (None = global), as sent (no ids)."""
        for sync in reversed(self.command_syncs):
            if sync.guild_id == guild_id:
                return sync.payload
        raise LookupError(f"no command sync recorded for guild {guild_id}")

    def add_attachment(self, filename: str, data: bytes, *, content_type: str | None = None) -> FakeAttachment:
        """Register bytes served at ``/attachments/{id}/{filename}``; use the result as an attachment option."""
        att_id = snowflake()
        att = FakeAttachment(
            id=att_id,
            filename=filename,
            size=len(data),
            url=f"{self.base_url}/attachments/{att_id}/{filename}",
            content_type=content_type or mimetypes.guess_type(filename)[0],
            data=data,
        )
        self._attachments[att_id] = att
        return att

    # ---------------------------------------------------------------------------------------------- faults

    def forbid_channel(self, channel_id: int) -> None:
        """Sends/edits in this channel answer 403 Missing Permissions (50013)."""
        self.forbidden_channels.add(channel_id)

    def delete_channel(self, channel_id: int) -> None:
        """REST calls on this channel answer 404 Unknown Channel (10003); the bot's cache is not told."""
        self.deleted_channels.add(channel_id)

    def expire_interaction(self, interaction_id: int) -> None:
        """Token routes of this interaction answer 401 Invalid Webhook Token (50027) from now on."""
        self.interactions[interaction_id].expired = True

    def rate_limit(
        self,
        pattern: str,
        count: int = 1,
        *,
        retry_after: float = 0.05,
        method: str | None = None,
        scope: str = "user",
        is_global: bool = False,
        via: bool = True,
    ) -> RateLimitRule:
        """The next ``count`` requests whose path matches regex ``pattern`` get 429 with JSON ``retry_after``,
        ``X-RateLimit-Scope`` and (``via=True``) ``Via: 1.1 google`` — without Via discord.py treats it as a
        Cloudflare ban and raises at once."""
        rule = RateLimitRule(pattern, count, retry_after, method and method.upper(), scope, is_global, via)
        self.rate_limits.append(rule)
        return rule

    def delay(self, pattern: str, seconds: float, *, method: str | None = None, count: int | None = None) -> DelayRule:
        """Sleep ``seconds`` before answering requests whose path matches regex ``pattern``."""
        rule = DelayRule(pattern, seconds, method and method.upper(), count)
        self.delays.append(rule)
        return rule

    def clear_faults(self) -> None:
        self.max_upload_bytes = None
        self.forbidden_channels.clear()
        self.deleted_channels.clear()
        self.rate_limits.clear()
        self.delays.clear()
        for state in self.interactions.values():
            state.expired = False

    # --------------------------------------------------------------------------------------------- gateway

    async def dispatch(self, event: str, data: Any) -> int:
        """Send a dispatch (op 0) to every identified client; returns how many got it."""
        sessions = [c.session for c in self._connections if c.session is not None and c.session.connection is c]
        if not sessions:
            raise RuntimeError("no identified gateway client is connected to the fake")
        for session in sessions:
            await self._send_dispatch(session, event, data)
        return len(sessions)

    async def send_interaction(self, payload: dict[str, Any]) -> int:
        """Register an interaction (token → id) and dispatch INTERACTION_CREATE; returns the interaction id."""
        state = InteractionState(id=int(payload["id"]), token=payload["token"], payload=payload)
        self.interactions[state.id] = state
        self._tokens[state.token] = state.id
        await self.dispatch("INTERACTION_CREATE", payload)
        return state.id

    async def close_connections(self, code: int = 4000) -> None:
        """Close every gateway socket from the server side (4000 → discord.py reconnects and RESUMEs)."""
        for conn in list(self._connections):
            await conn.ws.close(code=code)

    async def _send(self, conn: _Connection, frame: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(json.dumps(frame))

    async def _send_dispatch(self, session: _Session, event: str, data: Any) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(frame)
        del session.events[:-1000]
        if session.connection is not None:
            await self._send(session.connection, frame)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=2.0, max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(next(self._connection_ids), ws)
        self._connections.append(conn)
        try:
            await self._send(conn, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(msg.data))
        finally:
            self._connections.remove(conn)
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
        return ws

    async def _on_frame(self, conn: _Connection, payload: dict[str, Any]) -> None:
        frame = GatewayFrame(conn.id, payload.get("op", -1), payload.get("d"), time.monotonic())
        self._frames.add(frame)
        if frame.op == 1:
            await self._send(conn, {"op": 11})
        elif frame.op == 2:
            await self._identify(conn, frame.data)
        elif frame.op == 6:
            await self._resume(conn, frame.data)
        elif frame.op == 8:
            await self._request_members(conn, frame.data)
        self._frames.notify(frame)

    async def _identify(self, conn: _Connection, data: dict[str, Any]) -> None:
        if self.token is not None and data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard")
        session = _Session(secrets.token_hex(16), int(data.get("intents", 0)), shard, conn)
        self._sessions[session.id] = session
        conn.session = session
        guilds = [g for g in self.world.guilds if shard is None or (g.id >> 22) % shard[1] == shard[0]]
        user = self.world.bot_user.to_dict() | {"verified": True, "mfa_enabled": False, "flags": 0, "email": None}
        ready: dict[str, Any] = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.world.application.id), "flags": self.world.application.flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "_trace": ["fakediscord"],
        }
        if shard is not None:
            ready["shard"] = shard
        await self._send_dispatch(session, "READY", ready)
        for guild in guilds:
            await self._send_dispatch(session, "GUILD_CREATE", guild.to_dict())

    async def _resume(self, conn: _Connection, data: dict[str, Any]) -> None:
        session = self._sessions.get(data.get("session_id", ""))
        if not self.allow_resume or session is None:
            await self._send(conn, {"op": 9, "d": False})
            return
        session.connection = conn
        conn.session = session
        missed = [f for f in session.events if f["s"] > (data.get("seq") or 0)]
        for frame in missed:
            await self._send(conn, frame)
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fakediscord"]})

    async def _request_members(self, conn: _Connection, data: dict[str, Any]) -> None:
        if conn.session is None:
            return
        guild_ids = data["guild_id"] if isinstance(data["guild_id"], list) else [data["guild_id"]]
        user_ids = data.get("user_ids")
        if user_ids is not None and not isinstance(user_ids, list):
            user_ids = [user_ids]
        query = (data.get("query") or "").lower()
        for guild_id in guild_ids:
            guild = self.world.find_guild(int(guild_id))
            members = guild.members if guild else []
            if user_ids is not None:
                members = [m for m in members if str(m.id) in {str(u) for u in user_ids}]
            members = [m for m in members if m.user.username.lower().startswith(query)]
            chunk = {"guild_id": str(guild_id), "members": [m.to_dict() for m in members], "chunk_index": 0}
            chunk |= {"chunk_count": 1, "not_found": [], "nonce": data.get("nonce")}
            await self._send_dispatch(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _emit_message_event(self, event: str, message: FakeMessage) -> None:
        if not self.message_events or message.ephemeral:
            return
        intent = DIRECT_MESSAGES_INTENT if message.guild_id is None else GUILD_MESSAGES_INTENT
        data = message.to_dict()
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        if event == "MESSAGE_DELETE":
            data = {k: data[k] for k in ("id", "channel_id", "guild_id") if k in data}
        for conn in list(self._connections):
            session = conn.session
            if session is not None and session.connection is conn and session.intents & intent:
                await self._send_dispatch(session, event, data)

    # ------------------------------------------------------------------------------------------------ HTTP

    def _route_table(self) -> list[tuple[str, str, Handler]]:
        wh = "/webhooks/{app_id}/{token}"
        return [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/users/{user_id}", self._get_user),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", wh, self._webhook_execute),
            ("GET", wh + "/messages/{message_id}", self._webhook_get),
            ("PATCH", wh + "/messages/{message_id}", self._webhook_edit),
            ("DELETE", wh + "/messages/{message_id}", self._webhook_delete),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("GET", "/channels/{channel_id}/messages", self._get_history),
            ("POST", "/channels/{channel_id}/messages", self._post_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("GET", "/attachments/{attachment_id}/{filename}", self._download),
        ]

    def _match(self, method: str, path: str) -> tuple[str | None, Handler | None, dict[str, str]]:
        for route_method, regex, template, handler in self._routes:
            if route_method == method and (m := regex.fullmatch(path)):
                return template, handler, m.groupdict()
        return None, None, {}

    async def _http(self, request: web.Request) -> web.StreamResponse:
        received = time.monotonic()
        is_api = request.path.startswith(API_PREFIX + "/")
        path = request.path[len(API_PREFIX) :] if is_api else request.path
        body, parts = await _read_body(request)
        routed = is_api or path.startswith("/attachments/")
        template, handler, params = self._match(request.method, path) if routed else (None, None, {})
        if "interaction_id" in params:
            interaction_id: int | None = int(params["interaction_id"])
        else:
            interaction_id = self._tokens.get(params.get("token", ""))
        record = RecordedRequest(
            index=len(self._requests.items),
            method=request.method,
            path=path,
            query=dict(request.query),
            headers={k: request.headers[k] for k in RECORDED_HEADERS if k in request.headers},
            json=body,
            parts=parts,
            received_at=received,
            interaction_id=interaction_id,
            route=template,
        )
        self._requests.add(record)
        try:
            await self._apply_delays(record)
            reply = self._take_rate_limit(record)
            if reply is None:
                if handler is None:
                    raise ApiError(*NOT_FOUND)
                self._check_auth(record)
                result = await handler(record, **params)
                reply = result if isinstance(result, _Reply) else _Reply(result, 204 if result is None else 200)
        except ApiError as exc:
            reply = _Reply({"message": exc.message, "code": exc.code}, exc.status)
        except Exception as exc:  # a bug in the fake: answer 400 (a 500 would make discord.py retry for ~25 s)
            self.internal_errors.append(exc)
            reply = _Reply({"message": f"FakeDiscord internal error: {exc!r}", "code": 0}, 400)
        record.status, record.response = reply.status, reply.body
        self._requests.notify(record)
        return _to_response(reply)

    def _check_auth(self, record: RecordedRequest) -> None:
        token_route = record.path.startswith(("/interactions/", "/webhooks/", "/attachments/"))
        if self.token is not None and not token_route and record.headers.get("Authorization") != f"Bot {self.token}":
            raise ApiError(*UNAUTHORIZED)

    async def _apply_delays(self, record: RecordedRequest) -> None:
        for rule in list(self.delays):
            if rule.remaining == 0 or not _rule_matches(rule.pattern, rule.method, record):
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
            await asyncio.sleep(rule.seconds)

    def _take_rate_limit(self, record: RecordedRequest) -> _Reply | None:
        for rule in self.rate_limits:
            if rule.remaining > 0 and _rule_matches(rule.pattern, rule.method, record):
                rule.remaining -= 1
                headers = {"Retry-After": str(max(1, math.ceil(rule.retry_after))), "X-RateLimit-Scope": rule.scope}
                if rule.via:
                    headers["Via"] = "1.1 google"
                if rule.is_global:
                    headers["X-RateLimit-Global"] = "true"
                body = {"message": "You are being rate limited.", "retry_after": rule.retry_after}
                return _Reply(body | {"global": rule.is_global}, 429, headers)
        return None

    # --------------------------------------------------------------------------------------- REST handlers

    async def _get_me(self, record: RecordedRequest) -> Any:
        return self.world.bot_user.to_dict() | {"verified": True, "mfa_enabled": False, "flags": 0}

    async def _get_application(self, record: RecordedRequest) -> Any:
        return self.world.application.to_dict()

    async def _get_gateway(self, record: RecordedRequest) -> Any:
        return {"url": self.gateway_url}

    async def _get_gateway_bot(self, record: RecordedRequest) -> Any:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    async def _get_user(self, record: RecordedRequest, user_id: str) -> Any:
        user = self.world.find_user(int(user_id))
        if user is None:
            raise ApiError(*UNKNOWN_USER)
        return user.to_dict()

    async def _create_dm(self, record: RecordedRequest) -> Any:
        user = self.world.find_user(int((record.json or {}).get("recipient_id", 0)))
        if user is None:
            raise ApiError(*UNKNOWN_USER)
        return self.world.dm_channel(user).to_dict()

    async def _get_member(self, record: RecordedRequest, guild_id: str, user_id: str) -> Any:
        guild = self.world.find_guild(int(guild_id))
        if guild is None:
            raise ApiError(*UNKNOWN_GUILD)
        member = guild.get_member(int(user_id))
        if member is None:
            raise ApiError(*UNKNOWN_MEMBER)
        return member.to_dict()

    async def _download(self, record: RecordedRequest, attachment_id: str, filename: str) -> Any:
        att = self._attachments.get(int(attachment_id))
        if att is None or att.filename != filename:
            raise ApiError(*NOT_FOUND)
        return _Reply(raw=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"})

    # application commands

    def _command_scope(self, app_id: str, guild_id: str | None) -> int | None:
        if int(app_id) != self.world.application.id:
            raise ApiError(*MISSING_ACCESS)
        if guild_id is None:
            return None
        if self.world.find_guild(int(guild_id)) is None:
            raise ApiError(*MISSING_ACCESS)
        return int(guild_id)

    async def _get_commands(self, record: RecordedRequest, app_id: str, guild_id: str | None = None) -> Any:
        return self.registered_commands.get(self._command_scope(app_id, guild_id), [])

    async def _put_commands(self, record: RecordedRequest, app_id: str, guild_id: str | None = None) -> Any:
        scope = self._command_scope(app_id, guild_id)
        if not isinstance(record.json, list):
            raise ApiError(*INVALID_FORM_BODY)
        self.command_syncs.append(CommandSync(scope, json.loads(json.dumps(record.json))))
        previous = {(c["type"], c["name"]): c["id"] for c in self.registered_commands.get(scope, [])}
        echoed = []
        for command in record.json:
            kind = command.get("type", 1)
            entry = {"description": "", "default_member_permissions": None, "nsfw": False, **command, "type": kind}
            entry |= {
                "id": previous.get((kind, command["name"])) or str(snowflake()),
                "application_id": str(self.world.application.id),
                "version": str(snowflake()),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            echoed.append(entry)
        self.registered_commands[scope] = echoed
        return echoed

    # interactions

    async def _callback(self, record: RecordedRequest, interaction_id: str, token: str) -> Any:
        state = self.interactions.get(int(interaction_id))
        if state is None or state.token != token:
            raise ApiError(*UNKNOWN_INTERACTION)
        if self.enforce_callback_window and time.time() - state.created_at > CALLBACK_WINDOW:
            raise ApiError(*UNKNOWN_INTERACTION)
        if state.response_type is not None:
            raise ApiError(*ALREADY_ACKNOWLEDGED)
        body = record.payload or {}
        kind, data = body.get("type"), body.get("data") or {}
        self._check_upload(record, state.payload["attachment_size_limit"])
        message: FakeMessage | None = None
        if kind == 4:
            message = await self._create_message(
                state.channel_id, data, record.files, author=self.world.bot_user, interaction=state
            )
        elif kind == 5:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            message = await self._create_message(
                state.channel_id, {"flags": flags}, [], author=self.world.bot_user, interaction=state
            )
        elif kind in (6, 7):
            message = self._adopt_interaction_message(state)
            if kind == 7:
                await self._apply_edit(message, data, record.files)
        elif kind not in (1, 8, 9, 12):
            raise ApiError(*INVALID_FORM_BODY)
        state.response_type, state.response_data = kind, data
        if message is not None and state.original_message_id is None:
            state.original_message_id = message.id
            if message.id not in state.message_ids:
                state.message_ids.append(message.id)
        if record.query.get("with_response") not in ("1", "true", "True"):
            return None
        interaction: dict[str, Any] = {
            "id": interaction_id,
            "type": state.payload["type"],
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(message and message.ephemeral),
        }
        if message is not None:
            interaction["response_message_id"] = str(message.id)
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 7) and message is not None:
            resource["message"] = message.to_dict()
        if kind == 12:
            resource["activity_instance"] = {"id": secrets.token_hex(8)}
        return {"interaction": interaction, "resource": resource}

    def _adopt_interaction_message(self, state: InteractionState) -> FakeMessage:
        """The message a component/modal interaction came from, stored if the fake had not seen it."""
        raw = state.payload.get("message")
        if raw is None:
            raise ApiError(*INVALID_FORM_BODY)
        existing = self.message(int(raw["id"]))
        if existing is not None:
            return existing
        author = self.world.find_user(int(raw["author"]["id"])) or FakeUser(int(raw["author"]["id"]), "unknown")
        message = FakeMessage(
            id=int(raw["id"]),
            channel_id=state.channel_id,
            guild_id=int(state.payload["guild_id"]) if "guild_id" in state.payload else None,
            author=author,
            content=raw.get("content", ""),
            embeds=raw.get("embeds", []),
            components=raw.get("components", []),
            flags=raw.get("flags", 0),
        )
        self._messages.setdefault(message.channel_id, []).append(message)
        return message

    def _token_state(self, app_id: str, token: str) -> InteractionState:
        if int(app_id) != self.world.application.id:
            raise ApiError(*UNKNOWN_WEBHOOK)
        interaction_id = self._tokens.get(token)
        if interaction_id is None or self.interactions[interaction_id].token_expired:
            raise ApiError(*INVALID_WEBHOOK_TOKEN)
        return self.interactions[interaction_id]

    def _token_message(self, state: InteractionState, message_id: str) -> FakeMessage:
        mid = state.original_message_id if message_id == "@original" else int(message_id)
        message = self.message(mid) if mid is not None else None
        if message is None or message.id not in state.message_ids:
            raise ApiError(*UNKNOWN_MESSAGE)
        return message

    async def _webhook_execute(self, record: RecordedRequest, app_id: str, token: str) -> Any:
        state = self._token_state(app_id, token)
        self._check_upload(record, state.payload["attachment_size_limit"])
        body = record.payload or {}
        original = self.message(state.original_message_id) if state.original_message_id else None
        if original is not None and original.loading and not state.followup_sent:
            # the first followup after a defer replaces the "thinking…" message; ephemerality was fixed at defer
            state.followup_sent = True
            await self._apply_edit(original, {k: v for k, v in body.items() if k != "flags"}, record.files)
            message = original
        else:
            state.followup_sent = True
            message = await self._create_message(
                state.channel_id, body, record.files, author=self.world.bot_user, interaction=state
            )
            state.message_ids.append(message.id)
        if record.query.get("wait") in ("0", "false", "False", None):
            return None
        return message.to_dict()

    async def _webhook_get(self, record: RecordedRequest, app_id: str, token: str, message_id: str) -> Any:
        return self._token_message(self._token_state(app_id, token), message_id).to_dict()

    async def _webhook_edit(self, record: RecordedRequest, app_id: str, token: str, message_id: str) -> Any:
        state = self._token_state(app_id, token)
        self._check_upload(record, state.payload["attachment_size_limit"])
        message = self._token_message(state, message_id)
        await self._apply_edit(message, record.payload or {}, record.files)
        return message.to_dict()

    async def _webhook_delete(self, record: RecordedRequest, app_id: str, token: str, message_id: str) -> Any:
        message = self._token_message(self._token_state(app_id, token), message_id)
        await self._remove_message(message)
        return None

    # channels and messages

    def _channel(self, channel_id: str) -> tuple[FakeChannel, FakeGuild | None]:
        channel = self.world.find_channel(int(channel_id))
        if channel is None or channel.id in self.deleted_channels:
            raise ApiError(*UNKNOWN_CHANNEL)
        guild = self.world.find_guild(channel.guild_id) if channel.guild_id is not None else None
        return channel, guild

    def _check_send(self, channel: FakeChannel, guild: FakeGuild | None, with_files: bool) -> None:
        if channel.id in self.forbidden_channels:
            raise ApiError(*MISSING_PERMISSIONS)
        if guild is None:
            return
        member = guild.get_member(self.world.bot_user.id)
        if member is None:
            raise ApiError(*MISSING_ACCESS)
        perms = discord.Permissions(guild.permissions_for(member))
        if not (perms.view_channel and perms.send_messages) or (with_files and not perms.attach_files):
            raise ApiError(*MISSING_PERMISSIONS)

    def _check_upload(self, record: RecordedRequest, limit: int) -> None:
        limit = self.max_upload_bytes if self.max_upload_bytes is not None else limit
        if any(part.size > limit for part in record.files):
            raise ApiError(*REQUEST_TOO_LARGE)

    def _visible_message(self, channel: FakeChannel, message_id: str) -> FakeMessage:
        message = self.message(int(message_id))
        if message is None or message.channel_id != channel.id or message.ephemeral:
            raise ApiError(*UNKNOWN_MESSAGE)
        return message

    async def _get_channel(self, record: RecordedRequest, channel_id: str) -> Any:
        return self._channel(channel_id)[0].to_dict()

    async def _get_history(self, record: RecordedRequest, channel_id: str) -> Any:
        channel, _ = self._channel(channel_id)
        messages = sorted(self.channel_messages(channel.id, include_ephemeral=False), key=lambda m: m.id)
        limit = max(1, min(100, int(record.query.get("limit", 50))))
        if "before" in record.query:
            messages = [m for m in messages if m.id < int(record.query["before"])][-limit:]
        elif "after" in record.query:
            messages = [m for m in messages if m.id > int(record.query["after"])][:limit]
        elif "around" in record.query:
            older = [m for m in messages if m.id <= int(record.query["around"])]
            newer = [m for m in messages if m.id > int(record.query["around"])]
            messages = older[-(limit + 1) // 2 :] + newer[: limit // 2]
        else:
            messages = messages[-limit:]
        return [m.to_dict() for m in reversed(messages)]

    async def _post_message(self, record: RecordedRequest, channel_id: str) -> Any:
        channel, guild = self._channel(channel_id)
        self._check_send(channel, guild, bool(record.files))
        self._check_upload(record, guild.upload_limit if guild else DEFAULT_UPLOAD_LIMIT)
        message = await self._create_message(channel.id, record.payload or {}, record.files, author=self.world.bot_user)
        return message.to_dict()

    async def _get_message(self, record: RecordedRequest, channel_id: str, message_id: str) -> Any:
        channel, _ = self._channel(channel_id)
        return self._visible_message(channel, message_id).to_dict()

    async def _edit_message(self, record: RecordedRequest, channel_id: str, message_id: str) -> Any:
        channel, guild = self._channel(channel_id)
        message = self._visible_message(channel, message_id)
        if message.author.id != self.world.bot_user.id:
            raise ApiError(*CANNOT_EDIT_OTHERS)
        self._check_send(channel, guild, bool(record.files))
        self._check_upload(record, guild.upload_limit if guild else DEFAULT_UPLOAD_LIMIT)
        await self._apply_edit(message, record.payload or {}, record.files)
        return message.to_dict()

    async def _delete_message(self, record: RecordedRequest, channel_id: str, message_id: str) -> Any:
        channel, _ = self._channel(channel_id)
        await self._remove_message(self._visible_message(channel, message_id))
        return None

    # message storage

    async def _create_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[MultipartPart],
        *,
        author: FakeUser,
        interaction: InteractionState | None = None,
    ) -> FakeMessage:
        channel = self.world.find_channel(channel_id)
        message = FakeMessage(
            id=snowflake(),
            channel_id=channel_id,
            guild_id=channel.guild_id if channel else None,
            author=author,
            content=body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=int(body.get("flags") or 0),
            nonce=body.get("nonce"),
        )
        message.attachments = self._collect_attachments(body, files, [])
        if interaction is not None:
            message.webhook_id = self.world.application.id
            message.interaction_id = interaction.id
            message.type = 20 if interaction.payload["type"] == 2 else 0
            invoker = interaction.payload.get("member", {}).get("user") or interaction.payload.get("user")
            message.interaction_metadata = {
                "id": str(interaction.id),
                "type": interaction.payload["type"],
                "user": invoker,
                "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {}),
            }
        self._messages.setdefault(channel_id, []).append(message)
        await self._emit_message_event("MESSAGE_CREATE", message)
        return message

    async def _apply_edit(self, message: FakeMessage, body: dict[str, Any], files: list[MultipartPart]) -> None:
        was_loading = message.loading
        if "content" in body:
            message.content = body["content"] or ""
        if "embeds" in body:
            message.embeds = body["embeds"] or []
        if "components" in body:
            message.components = body["components"] or []
        if body.get("flags") is not None:
            message.flags = int(body["flags"]) | (message.flags & EPHEMERAL)
        message.flags &= ~LOADING
        if "attachments" in body or files:
            message.attachments = self._collect_attachments(body, files, message.attachments)
        if not was_loading:
            message.edited_at = time.time()
        await self._emit_message_event("MESSAGE_UPDATE", message)

    async def _remove_message(self, message: FakeMessage) -> None:
        self._messages[message.channel_id].remove(message)
        await self._emit_message_event("MESSAGE_DELETE", message)

    def _collect_attachments(
        self, body: dict[str, Any], files: list[MultipartPart], existing: list[FakeAttachment]
    ) -> list[FakeAttachment]:
        """New attachment list: ``body.attachments`` keeps existing ids and maps ``{"id": n}`` to ``files[n]``."""
        by_index = {_file_index(p, i): p for i, p in enumerate(files)}
        if "attachments" not in body:
            return existing + [self._store_upload(p, None) for p in files]
        kept = {a.id: a for a in existing}
        result = []
        for item in body["attachments"] or []:
            att_id = int(item["id"])
            if att_id in kept:
                result.append(kept[att_id])
            elif att_id in by_index:
                result.append(self._store_upload(by_index.pop(att_id), item))
        return result + [self._store_upload(p, None) for p in by_index.values()]

    def _store_upload(self, part: MultipartPart, meta: dict[str, Any] | None) -> FakeAttachment:
        att_id = snowflake()
        filename = (meta or {}).get("filename") or part.filename or "file"
        content_type = part.content_type
        if content_type in (None, "application/octet-stream"):
            content_type = mimetypes.guess_type(filename)[0] or content_type
        att = FakeAttachment(
            id=att_id,
            filename=filename,
            size=part.size,
            url=f"{self.base_url}/attachments/{att_id}/{filename}",
            content_type=content_type,
            description=(meta or {}).get("description"),
            data=part.data,
        )
        self._attachments[att_id] = att
        return att


# ----------------------------------------------------------------------------------------------------- helpers


def _template_regex(template: str) -> str:
    return re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))


def _rule_matches(pattern: str, method: str | None, record: RecordedRequest) -> bool:
    return (method is None or method == record.method) and re.search(pattern, record.path) is not None


def _file_index(part: MultipartPart, position: int) -> int:
    match = re.fullmatch(r"files\[(\d+)\]", part.name)
    return int(match.group(1)) if match else position


def _to_response(reply: _Reply) -> web.Response:
    if reply.raw is not None:
        return web.Response(body=reply.raw, status=reply.status, headers=reply.headers)
    if reply.status == 204:
        return web.Response(status=204, headers=reply.headers)
    # exactly "application/json": discord.http.json_or_text compares the header verbatim
    headers = {"Content-Type": "application/json", **reply.headers}
    return web.Response(body=json.dumps(reply.body).encode(), status=reply.status, headers=headers)


async def _read_body(request: web.Request) -> tuple[Any, list[MultipartPart]]:
    if request.content_type.startswith("multipart/"):
        parts = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = bytes(await part.read())
            is_payload = part.name == "payload_json"
            parts.append(
                MultipartPart(
                    name=part.name or "",
                    filename=part.filename,
                    content_type=part.headers.get("Content-Type"),
                    size=len(data),
                    json=json.loads(data) if is_payload else None,
                    data=data,
                )
            )
        return None, parts
    raw = await request.read()
    if raw and request.content_type == "application/json":
        return json.loads(raw), []
    return None, []
