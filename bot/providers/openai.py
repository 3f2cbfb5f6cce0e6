"""Client for the OpenAI Videos API protocol (``/v1/videos``) over one shared aiohttp session.

The same client talks to OpenAI-compatible gateways (Azure ``api-key``, LiteLLM
``x-litellm-api-key``), so it is lenient about what comes back and strict about two things:

* **the key never leaks** — it is only ever placed in the auth header of requests to the
  configured origin (never forwarded across a redirect to another host), and any echo of it in a
  provider's error text is redacted before it reaches an exception or a log line;
* **a video is never created twice by accident** — ``create`` and ``remix`` have no idempotency
  key in the protocol, so they are re-sent only when the request certainly did not reach the
  provider (connection refused, DNS failure, a 429).  After an unclear outcome (timeout after
  sending, connection reset, a 5xx, a garbled 200) the client first lists recent videos to find
  the job it may have started, and raises :class:`CreateUncertainError` when it cannot tell.

Idempotent calls (retrieve, list, download, delete, models) retry on 408/409/429/5xx and
connection errors with jittered exponential backoff like openai-python, honouring
``retry-after-ms`` / ``Retry-After`` and the ``x-should-retry`` override.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import email.utils
import itertools
import json
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import SecretStr, ValidationError
from yarl import URL

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
    VideoList,
)

__all__ = ["DownloadTooLargeError", "ReferenceImage", "VideosClient"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses an idempotent call retries on (plus every status >= 500), as in openai-python.
RETRY_STATUSES: Final = frozenset({408, 409, 429})
#: Operations where a 404 without an API error body means "this gateway has no such route".
ROUTE_MAY_BE_MISSING: Final = frozenset({"list", "delete", "remix", "models"})
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS: Final = 5
DOWNLOAD_CHUNK_BYTES: Final = 256 * 1024
ERROR_BODY_LIMIT_BYTES: Final = 64 * 1024
MESSAGE_LIMIT_CHARS: Final = 300
#: Reconcile looks for jobs created at or after (first send time - this slack), to absorb clock skew.
RECONCILE_SLACK_SECONDS: Final = 60
RECONCILE_PAGE_SIZE: Final = 100
RECONCILE_MAX_PAGES: Final = 5

_OPERATION_NAMES: Final = {
    "create": "creating videos",
    "retrieve": "fetching a video",
    "list": "listing videos",
    "download": "downloading videos",
    "delete": "deleting videos",
    "remix": "remixing videos",
    "models": "listing models",
}


class DownloadTooLargeError(ProviderError):
    """The video is larger than the caller's ``max_bytes``; the partial file was removed."""

    user_hint = "The finished video is too large to deliver."


@dataclass(frozen=True)
class ReferenceImage:
    """An image sent as ``input_reference`` (the first frame); it must match the requested size."""

    data: bytes
    filename: str
    content_type: str

    def __repr__(self) -> str:
        return f"ReferenceImage(filename={self.filename!r}, content_type={self.content_type!r}, {len(self.data)} bytes)"


# --------------------------------------------------------------------------- internal plumbing


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _HttpFailure(Exception):
    """A non-2xx answer, mapped to a :class:`ProviderError` by the retry loop."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class _TransportFailure(Exception):
    """An aiohttp-level failure.  ``sent`` is False only when the request surely never left."""

    def __init__(self, error: ProviderUnavailableError, cause: BaseException, *, sent: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.cause = cause
        self.sent = sent


@dataclass(frozen=True)
class _ErrorBody:
    """What could be read from an error body.  ``is_api_error``: it was an OpenAI ``{"error": {...}}``."""

    message: str | None = None
    code: str | None = None
    param: str | None = None
    is_api_error: bool = False

    @classmethod
    def parse(cls, body: bytes) -> _ErrorBody:
        try:
            payload = json.loads(body)
        except ValueError:
            return cls()
        if not isinstance(payload, dict):
            return cls()
        error = payload.get("error")
        if isinstance(error, dict):
            return cls(
                message=_text_or_none(error.get("message")),
                code=_text_or_none(error.get("code")),
                param=_text_or_none(error.get("param")),
                is_api_error=True,
            )
        # Gateway shapes: {"error": "text"}, FastAPI's {"detail": "Not Found"}, {"message": ...}.
        for key in ("error", "detail", "message"):
            text = _text_or_none(payload.get(key))
            if text:
                return cls(message=text)
        return cls()


@dataclass
class _Scan:
    """Result of scanning recent videos for a job we may have started."""

    match: Video | None = None
    possible: bool = False  # a video that might be ours, but lacks the fields to tell
    covered: bool = False  # the whole time window was listed


_Verdict = bool | None  # True: ours; False: not ours; None: cannot tell (fields missing)


def _text_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _quote_id(video_id: str) -> str:
    if not video_id:
        raise ValueError("video_id must not be empty")
    return quote(video_id, safe="")


def _request_id(headers: Mapping[str, str]) -> str | None:
    return headers.get("x-request-id") or headers.get("request-id") or headers.get("apim-request-id")


def _should_retry_header(headers: Mapping[str, str]) -> bool | None:
    """The ``x-should-retry`` override: True, False, or None when absent or unreadable."""
    value = (headers.get("x-should-retry") or "").strip().lower()
    return {"true": True, "false": False}.get(value)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (first), else ``Retry-After`` (seconds or HTTP date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        with contextlib.suppress(ValueError):
            return float(raw_ms) / 1000.0
    raw = (headers.get("retry-after") or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.timestamp() - (time.time() if now is None else now)


def _is_unsent(exc: BaseException) -> bool:
    """True when aiohttp failed before any byte of the request could reach the server."""
    return isinstance(
        exc,
        aiohttp.ClientConnectorError
        | aiohttp.ConnectionTimeoutError
        | aiohttp.InvalidURL
        | aiohttp.NonHttpUrlClientError,
    )


def _transport_failure(exc: BaseException, timeout_seconds: float) -> _TransportFailure:
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        reason = "the configured base URL is not a valid HTTP address"
    elif isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
        reason = "could not connect (connection refused, DNS failure or connect timeout)"
    elif isinstance(exc, TimeoutError):
        reason = f"no answer within {timeout_seconds:g} s"
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError):
        reason = "the connection dropped before the answer was complete"
    else:
        reason = f"transport error ({type(exc).__name__})"
    error = ProviderUnavailableError(f"Could not reach the video provider: {reason}.")
    return _TransportFailure(error, exc, sent=not _is_unsent(exc))


def _same_text(expected: str, actual: str | None) -> _Verdict:
    return None if actual is None else expected.strip() == actual.strip()


def _same_model(expected: str, actual: str | None) -> _Verdict:
    """Gateways may echo a routed name (``openai/sora-2``) for the public one (``sora-2``)."""
    if actual is None:
        return None
    a, b = expected.strip().lower(), actual.strip().lower()
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _same_seconds(expected: int, actual: str | None) -> _Verdict:
    if actual is None:
        return None
    try:
        return float(actual) == float(expected)
    except ValueError:
        return False


def _combine(verdicts: list[_Verdict]) -> _Verdict:
    if any(v is False for v in verdicts):
        return False
    return True if all(v is True for v in verdicts) else None


def _create_matcher(prompt: str, model: str, size: str, seconds: int) -> Callable[[Video], _Verdict]:
    def verdict(video: Video) -> _Verdict:
        return _combine(
            [
                _same_text(prompt, video.prompt),
                _same_model(model, video.model),
                _same_text(size.lower(), video.size.lower() if video.size else None),
                _same_seconds(seconds, video.seconds),
            ]
        )

    return verdict


def _remix_matcher(source_id: str, prompt: str) -> Callable[[Video], _Verdict]:
    def verdict(video: Video) -> _Verdict:
        return _combine([_same_text(prompt, video.prompt), _same_text(source_id, video.remixed_from_video_id)])

    return verdict


def _reaches_before(stamps: list[int | None], created_after: int) -> bool:
    """True when a page is ordered newest-first and its oldest entry is older than the window."""
    if not stamps or any(s is None for s in stamps):
        return False
    known = [s for s in stamps if s is not None]
    newest_first = all(a >= b for a, b in itertools.pairwise(known))
    return newest_first and known[-1] < created_after


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the client


class VideosClient:
    """Async client for ``/v1/videos`` on OpenAI or an OpenAI-compatible gateway.

    ``base_url`` already includes ``/v1``.  ``auth_header`` "Authorization" sends
    ``Bearer <key>``; any other name (``api-key``, ``x-litellm-api-key``) carries the raw key.
    ``sleep`` and ``clock`` are injectable so tests neither wait nor depend on wall time.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: SecretStr | None,
        *,
        auth_header: str = "Authorization",
        timeout_seconds: float = 60.0,
        max_retries: int = 3,
        backoff_base_seconds: float = 0.5,
        backoff_max_seconds: float = 8.0,
        max_retry_after_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._session = session
        self.base_url = str(URL(base_url.strip().rstrip("/")))
        self._origin = URL(self.base_url).origin()
        self._api_key = api_key
        self._auth_header = auth_header.strip() or "Authorization"
        self._timeout_seconds = timeout_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # Large files: no total limit, but every connect and every read must make progress.
        self._download_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout_seconds, sock_read=timeout_seconds
        )
        self._max_retries = max_retries
        self._backoff_base = backoff_base_seconds
        self._backoff_max = backoff_max_seconds
        self._max_retry_after = max_retry_after_seconds
        self._sleep = sleep
        self._clock = clock
        # Ids this client already handed out from create/remix: reconcile never claims them twice.
        self._claimed: deque[str] = deque(maxlen=1024)

    def __repr__(self) -> str:
        return f"VideosClient(base_url={self.base_url!r}, auth_header={self._auth_header!r})"

    # ------------------------------------------------------------------ public API

    async def create(
        self, *, prompt: str, model: str, size: str, seconds: int, image: ReferenceImage | None = None
    ) -> Video:
        """Start a job (``POST /videos``): JSON without an image, multipart with one.

        Not idempotent: see the module docstring for when it is re-sent and reconciled.
        """
        fields = {"prompt": prompt, "model": model, "size": size, "seconds": str(seconds)}
        form: Callable[[], aiohttp.FormData] | None = None
        if image is not None:
            form = self._form_factory(fields, image)
        return await self._start_job(
            "create",
            "/videos",
            json_body=None if form else fields,
            form=form,
            matcher=_create_matcher(prompt, model, size, seconds),
            model=model,
        )

    async def retrieve(self, video_id: str) -> Video:
        """``GET /videos/{id}``: the job's current state."""
        reply = await self._call("retrieve", "GET", f"/videos/{_quote_id(video_id)}")
        return self._video(reply)

    async def list(self, *, after: str | None = None, limit: int = 20, order: str = "desc") -> VideoList:
        """One page of ``GET /videos``.  Entries that are not valid video objects are skipped."""
        params = {"limit": str(limit), "order": order}
        if after is not None:
            params["after"] = after
        reply = await self._call("list", "GET", "/videos", params=params)
        return self._video_list(reply)

    async def iter_videos(
        self, *, order: str = "desc", page_size: int = 100, max_pages: int | None = None
    ) -> AsyncIterator[Video]:
        """Every video, paging with ``after = last_id`` until ``has_more`` is false."""
        after: str | None = None
        pages = 0
        while max_pages is None or pages < max_pages:
            page = await self.list(after=after, limit=page_size, order=order)
            pages += 1
            for video in page.data:
                yield video
            next_after = page.last_id or (page.data[-1].id if page.data else None)
            if not page.has_more or next_after is None or next_after == after:
                return
            after = next_after

    async def download(self, video_id: str, dest: Path, *, variant: str = "video", max_bytes: int | None = None) -> int:
        """Stream ``GET /videos/{id}/content`` to ``dest`` and return the bytes written.

        The body goes to ``dest + ".part"`` first and is renamed into place only when complete;
        on any failure (including ``max_bytes`` exceeded) the partial file is removed.
        """
        dest = Path(dest)
        part = dest.with_suffix(dest.suffix + ".part")
        url = self._url(f"/videos/{_quote_id(video_id)}/content")

        async def once() -> int:
            try:
                return await self._stream_to(url, {"variant": variant}, part, max_bytes)
            except BaseException:
                _remove_quietly(part)
                raise

        await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
        written = await self._retrying("download", once)
        await asyncio.to_thread(part.replace, dest)
        return written

    async def remix(self, video_id: str, prompt: str) -> Video:
        """``POST /videos/{id}/remix``: a new job from a completed video.  Not idempotent, like create."""
        return await self._start_job(
            "remix",
            f"/videos/{_quote_id(video_id)}/remix",
            json_body={"prompt": prompt},
            form=None,
            matcher=_remix_matcher(video_id, prompt),
        )

    async def delete(self, video_id: str) -> bool:
        """``DELETE /videos/{id}``; returns the provider's ``deleted`` flag (True when absent)."""
        reply = await self._call("delete", "DELETE", f"/videos/{_quote_id(video_id)}")
        payload = self._json(reply)
        if isinstance(payload, dict):
            return bool(payload.get("deleted", True))
        return True

    async def find_recent_match(
        self, *, prompt: str, model: str, size: str, seconds: int, created_after: int
    ) -> Video | None:
        """Newest video with these parameters created at or after ``created_after`` (unix s).

        Lists newest-first for at most ``RECONCILE_MAX_PAGES`` pages.  Videos whose provider
        omits ``created_at`` or a compared field are never returned (they cannot be told apart).
        Raises what :meth:`list` raises (e.g. :class:`NotSupportedError`).
        """
        scan = await self._scan(_create_matcher(prompt, model, size, seconds), created_after, exclude=())
        return scan.match

    async def models(self) -> builtins.list[str]:
        """``GET /models``: the model ids the key may use; a cheap call for a health check."""
        reply = await self._call("models", "GET", "/models")
        payload = self._json(reply)
        items = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(items, builtins.list):
            raise ServerError("The provider's model list is not in the expected shape.", status=reply.status)
        return [item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]

    # ------------------------------------------------------------------ requests

    def _url(self, path: str) -> URL:
        # Ids are already quoted: tell yarl not to re-quote (a quoted "/" must stay "%2F").
        return URL(self.base_url + path, encoded=True)

    def _key(self) -> str | None:
        if self._api_key is None:
            return None
        return self._api_key.get_secret_value().strip() or None

    def _auth_headers(self) -> dict[str, str]:
        key = self._key()
        if key is None:
            return {}
        if self._auth_header.lower() == "authorization":
            return {"Authorization": f"Bearer {key}"}
        return {self._auth_header: key}

    def _redact(self, text: str) -> str:
        key = self._key()
        if key:
            text = text.replace(key, "[redacted]")
        if len(text) > MESSAGE_LIMIT_CHARS:
            text = text[: MESSAGE_LIMIT_CHARS - 1] + "…"
        return text

    @staticmethod
    def _form_factory(fields: dict[str, str], image: ReferenceImage) -> Callable[[], aiohttp.FormData]:
        """A FormData can be sent only once, so each attempt builds a fresh one."""

        def build() -> aiohttp.FormData:
            form = aiohttp.FormData()
            for name, value in fields.items():
                form.add_field(name, value)
            form.add_field("input_reference", image.data, filename=image.filename, content_type=image.content_type)
            return form

        return build

    @contextlib.asynccontextmanager
    async def _open(
        self,
        method: str,
        url: URL,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, str] | None = None,
        data: aiohttp.FormData | None = None,
        accept: str = "application/json",
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open one request, following GET redirects by hand.

        The auth header goes only to the configured origin: aiohttp would drop ``Authorization``
        on a cross-host redirect but forward a custom ``api-key`` header to e.g. a CDN.
        Non-GET redirects are not followed (a re-sent POST could start a second job).
        """
        for _hop in range(MAX_REDIRECTS + 1):
            headers = {"Accept": accept}
            if url.origin() == self._origin:
                headers.update(self._auth_headers())
            async with self._session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=data,
                headers=headers,
                timeout=client_timeout or self._timeout,
                allow_redirects=False,
            ) as resp:
                location = resp.headers.get("Location")
                if method == "GET" and resp.status in REDIRECT_STATUSES and location:
                    url = resp.url.join(URL(location))
                    params = None  # the Location carries its own query
                    if url.scheme not in ("http", "https"):
                        raise ServerError("The provider redirected to a non-HTTP address.", status=resp.status)
                    continue
                yield resp
                return
        raise ServerError(f"The provider redirected more than {MAX_REDIRECTS} times.", status=0)

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, str] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> _Reply:
        """One HTTP exchange; aiohttp errors become :class:`_TransportFailure`."""
        try:
            async with self._open(
                method, self._url(path), params=params, json_body=json_body, data=form() if form else None
            ) as resp:
                body = await resp.read()
                return _Reply(resp.status, resp.headers, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_failure(exc, self._timeout_seconds) from exc

    async def _call(self, op: str, method: str, path: str, *, params: dict[str, str] | None = None) -> _Reply:
        """An idempotent call with retries; returns the 2xx reply."""

        async def once() -> _Reply:
            reply = await self._exchange(method, path, params=params)
            if not reply.ok:
                raise _HttpFailure(reply)
            return reply

        return await self._retrying(op, once)

    async def _retrying(self, op: str, once: Callable[[], Awaitable[T]]) -> T:
        """Run an idempotent attempt until it succeeds, a non-retryable error occurs, or retries run out."""
        attempt = 0
        while True:
            try:
                return await once()
            except _TransportFailure as failure:
                if attempt >= self._max_retries:
                    raise failure.error from failure.cause
                error: ProviderError = failure.error
                delay = self._backoff(attempt)
            except _HttpFailure as failure:
                error = self._error_from_reply(failure.reply, op)
                status = failure.reply.status
                default = status in RETRY_STATUSES or (status >= 500 and status != 501)
                if error.code == "insufficient_quota":
                    default = False  # a 429 that waiting will not fix
                retry_delay = self._retry_delay(failure.reply, attempt, default=default)
                if retry_delay is None:
                    raise error from None
                delay = retry_delay
            await self._pause(op, error, delay, attempt)
            attempt += 1

    async def _stream_to(self, url: URL, params: dict[str, str], part: Path, max_bytes: int | None) -> int:
        try:
            async with self._open(
                "GET", url, params=params, accept="application/binary", client_timeout=self._download_timeout
            ) as resp:
                if not 200 <= resp.status < 300:
                    body = await resp.content.read(ERROR_BODY_LIMIT_BYTES)
                    raise _HttpFailure(_Reply(resp.status, resp.headers, body))
                if max_bytes is not None and resp.content_length is not None and resp.content_length > max_bytes:
                    raise self._too_large(max_bytes, resp.content_length)
                return await self._write_body(resp, part, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_failure(exc, self._timeout_seconds) from exc

    async def _write_body(self, resp: aiohttp.ClientResponse, part: Path, max_bytes: int | None) -> int:
        written = 0
        handle = await asyncio.to_thread(part.open, "wb")
        try:
            async for chunk in resp.content.iter_chunked(DOWNLOAD_CHUNK_BYTES):
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise self._too_large(max_bytes, None)
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        if written == 0:
            raise ServerError("The provider sent an empty file for this video.", status=resp.status)
        return written

    @staticmethod
    def _too_large(max_bytes: int, declared: int | None) -> DownloadTooLargeError:
        size = f" ({declared} bytes)" if declared is not None else ""
        return DownloadTooLargeError(
            f"The video is larger than the {max_bytes}-byte limit{size}; the download was stopped."
        )

    # ------------------------------------------------------------------ create / remix

    async def _start_job(
        self,
        op: str,
        path: str,
        *,
        json_body: dict[str, str] | None,
        form: Callable[[], aiohttp.FormData] | None,
        matcher: Callable[[Video], _Verdict],
        model: str | None = None,
    ) -> Video:
        """POST a non-idempotent job request.

        Re-sent only when it certainly did not reach the provider (connect failure, 429, other 4xx
        with ``x-should-retry: true``).  After an unclear outcome the job is looked for in the list;
        only a conclusive "not there" allows a re-send.
        """
        first_sent = self._clock()
        attempt = 0
        while True:
            error: ProviderError
            try:
                reply = await self._exchange("POST", path, json_body=json_body, form=form)
            except _TransportFailure as failure:
                error = failure.error
                if not failure.sent:
                    if attempt >= self._max_retries:
                        raise error from failure.cause
                    await self._pause(op, error, self._backoff(attempt), attempt)
                    attempt += 1
                    continue
            else:
                if reply.ok:
                    try:
                        return self._claim(self._video(reply))
                    except ServerError as exc:
                        error = exc  # accepted, but the answer is garbled: the job may exist
                else:
                    error = self._error_from_reply(reply, op, model=model)
                    if not self._outcome_unclear(reply):
                        delay = self._retry_delay(reply, attempt, default=reply.status == 429)
                        if delay is None or error.code == "insufficient_quota":
                            raise error
                        await self._pause(op, error, delay, attempt)
                        attempt += 1
                        continue
                    if _should_retry_header(reply.headers) is False:
                        raise error
            # The provider may or may not have started the job: look before re-sending.
            await self._pause(op, error, self._backoff(attempt), attempt, reconciling=True)
            found = await self._reconcile(op, matcher, first_sent, error)
            if found is not None:
                return self._claim(found)
            if attempt >= self._max_retries:
                raise error
            attempt += 1

    @staticmethod
    def _outcome_unclear(reply: _Reply) -> bool:
        """A 5xx or 408 on a POST may come after the provider already accepted the job."""
        return reply.status >= 500 or reply.status == 408

    def _claim(self, video: Video) -> Video:
        self._claimed.append(video.id)
        return video

    async def _reconcile(
        self, op: str, matcher: Callable[[Video], _Verdict], first_sent: float, error: ProviderError
    ) -> Video | None:
        """Find the job an unclear request may have started; None only if it is surely absent."""
        created_after = int(first_sent - RECONCILE_SLACK_SECONDS)
        try:
            scan = await self._scan(matcher, created_after, exclude=tuple(self._claimed))
        except NotSupportedError:
            raise self._uncertain(error, "this provider cannot list videos to check") from error
        except ProviderError as exc:
            raise self._uncertain(error, f"listing recent videos to check failed ({exc.message})") from error
        if scan.match is not None:
            log.warning(
                "Video provider: %s had an unclear outcome (%s) but job %s exists; using it.", op, error, scan.match.id
            )
            return scan.match
        if scan.possible:
            raise self._uncertain(error, "a recent video might be it, but the provider omits the fields to tell")
        if not scan.covered:
            raise self._uncertain(error, "the list of recent videos could not be checked far enough back")
        log.info("Video provider: %s had an unclear outcome (%s); no such job exists, so it may be re-sent.", op, error)
        return None

    @staticmethod
    def _uncertain(error: ProviderError, why: str) -> CreateUncertainError:
        return CreateUncertainError(
            "The video provider may or may not have started this video: the answer to the request "
            f"was unclear ({error.message}) and {why}. Check before trying again, or a second video may be billed.",
            status=error.status,
            code=error.code,
            param=error.param,
            request_id=error.request_id,
        )

    async def _scan(
        self, matcher: Callable[[Video], _Verdict], created_after: int, *, exclude: tuple[str, ...]
    ) -> _Scan:
        """List newest-first until past ``created_after`` or out of pages, looking for a match."""
        result = _Scan()
        after: str | None = None
        for _page in range(RECONCILE_MAX_PAGES):
            page = await self.list(after=after, limit=RECONCILE_PAGE_SIZE, order="desc")
            for video in page.data:
                if video.id in exclude or (video.created_at is not None and video.created_at < created_after):
                    continue
                verdict = matcher(video)
                if verdict is True and video.created_at is not None:
                    result.match = video
                    return result
                if verdict is not False:
                    result.possible = True
            if not page.has_more or _reaches_before([v.created_at for v in page.data], created_after):
                result.covered = True
                return result
            next_after = page.last_id or (page.data[-1].id if page.data else None)
            if next_after is None or next_after == after:
                return result
            after = next_after
        return result

    # ------------------------------------------------------------------ retries

    def _backoff(self, attempt: int) -> float:
        """openai-python's schedule: base × 2^n capped at max, times a jitter factor in (0.75, 1]."""
        delay = min(self._backoff_base * (2.0**attempt), self._backoff_max)
        return delay * (1.0 - 0.25 * random.random())

    def _retry_delay(self, reply: _Reply, attempt: int, *, default: bool) -> float | None:
        """Seconds to wait before retrying ``reply``, or None to give up now."""
        override = _should_retry_header(reply.headers)
        wanted = default if override is None else override
        if not wanted or attempt >= self._max_retries:
            return None
        retry_after = parse_retry_after(reply.headers)
        if retry_after is not None and retry_after > self._max_retry_after:
            log.warning(
                "Video provider asked to wait %.0f s (limit %.0f s); giving up.", retry_after, self._max_retry_after
            )
            return None
        if retry_after is not None and retry_after > 0:
            return retry_after
        return self._backoff(attempt)

    async def _pause(
        self, op: str, error: ProviderError, delay: float, attempt: int, *, reconciling: bool = False
    ) -> None:
        then = "checking whether the job started" if reconciling else "retrying"
        log.info(
            "Video provider: %s failed (%s); %s in %.2f s (attempt %d of %d).",
            op,
            error,
            then,
            delay,
            attempt + 1,
            self._max_retries + 1,
        )
        await self._sleep(delay)

    # ------------------------------------------------------------------ parsing

    def _error_from_reply(self, reply: _Reply, op: str, *, model: str | None = None) -> ProviderError:
        """Map an HTTP error answer to the provider error hierarchy (messages are safe to show)."""
        status = reply.status
        body = _ErrorBody.parse(reply.body)
        info: dict[str, Any] = {
            "status": status,
            "code": body.code,
            "param": body.param,
            "request_id": _request_id(reply.headers),
        }
        said = self._redact(body.message) if body.message else None
        operation = _OPERATION_NAMES.get(op, op)
        if not body.is_api_error and reply.body:
            snippet = self._redact(reply.body[:200].decode(errors="replace"))
            log.debug("Video provider: HTTP %d body for %s: %r", status, op, snippet)

        if status in (401, 403):
            return AuthenticationError(said or "The video provider refused the API key.", **info)
        if status == 404:
            if body.code == "model_not_found":
                name = repr(model) if model else "requested"
                return NotFoundError(f"The {name} model is retired or unknown to this video provider.", **info)
            if not body.is_api_error and op in ROUTE_MAY_BE_MISSING:
                return NotSupportedError(f"This video provider does not support {operation}.", **info)
            if not body.is_api_error and op == "create":
                return NotFoundError(
                    "The video provider has no /videos endpoint at this address; check the base URL.", **info
                )
            return NotFoundError(said or "The video provider does not know this video.", **info)
        if status in (405, 501):
            return NotSupportedError(f"This video provider does not support {operation}.", **info)
        if status == 429:
            return RateLimitedError(
                said or "The video provider is rate limiting requests.",
                retry_after=parse_retry_after(reply.headers),
                **info,
            )
        if status >= 500:
            return ServerError(said or "The video provider had an internal error.", **info)
        if 400 <= status < 500 and status != 408:
            if body.code == "moderation_blocked":
                return ModerationBlockedError(said or "The provider's moderation blocked this request.", **info)
            return InvalidRequestError(said or "The video provider refused the request.", **info)
        # 408, an unfollowed 3xx, or anything else unexpected.
        return ServerError(said or "The video provider gave an unexpected answer.", **info)

    def _json(self, reply: _Reply) -> Any:
        try:
            return json.loads(reply.body)
        except ValueError:
            raise ServerError(
                "The video provider answered with a body that is not JSON.",
                status=reply.status,
                request_id=_request_id(reply.headers),
            ) from None

    def _video(self, reply: _Reply) -> Video:
        payload = self._json(reply)
        try:
            if not isinstance(payload, dict):
                raise TypeError
            return Video.model_validate(payload)
        except (TypeError, ValidationError):
            raise ServerError(
                "The video provider's answer is not a video object.",
                status=reply.status,
                request_id=_request_id(reply.headers),
            ) from None

    def _video_list(self, reply: _Reply) -> VideoList:
        payload = self._json(reply)
        if isinstance(payload, builtins.list):
            payload = {"data": payload}
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), builtins.list):
            raise ServerError(
                "The video provider's list answer is not in the expected shape.",
                status=reply.status,
                request_id=_request_id(reply.headers),
            )
        videos: builtins.list[Video] = []
        for item in payload["data"]:
            try:
                videos.append(Video.model_validate(item))
            except ValidationError:
                log.debug("Video provider: skipping a list entry that is not a video object.")
        rest = {k: v for k, v in payload.items() if k in ("first_id", "last_id", "has_more")}
        try:
            return VideoList.model_validate({**rest, "data": videos})
        except ValidationError:
            return VideoList(data=videos, has_more=False)
