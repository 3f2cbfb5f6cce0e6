"""A local simulator of the OpenAI Videos API (``/v1/videos``) as an aiohttp application.

It follows docs/video-api.md (shared protocol reference) and lets tests and key-less operators run
the whole bot locally.  Job status is derived lazily from the (injectable) clock; media is rendered
once per completed job in a worker thread.

Where the protocol is silent the simulator chooses, and documents here:

* Content of a job that is not ``completed`` → **400** ``video_not_completed`` (not 409: the official
  SDK retries 409s).  Remixing such a job → the same 400.
* ``DELETE`` of a ``queued``/``in_progress`` job → **400** ``video_in_progress``; only finished jobs
  can be deleted.  A deleted id then answers 404 everywhere, but still works as a list cursor.
* ``failed`` jobs report ``progress`` 0, ``completed_at`` (the failure time) and ``expires_at`` null;
  ``completed`` jobs report ``expires_at = completed_at + expires_after_seconds`` (3600).
* Both terminal states are reached ``job_seconds`` after create; the first ``queued_fraction`` of
  that time is ``queued``.
* Prompt length errors use code ``invalid_value``; a missing prompt ``missing_required_parameter``.
  JSON ``seconds`` must be a string (as the spec says); an integer is 400 ``invalid_type``.
* JSON ``input_reference`` accepts ``{"image_url": "data:image/...;base64,..."}`` (checked like an
  upload); a plain http(s) URL is accepted but not fetched; ``file_id`` is refused (no Files API).
* ``GET /v1/videos``: ``limit`` 1–100 (default 20), ``order`` asc|desc (default desc); an unknown
  ``after`` cursor is 400.
* ``Retry-After`` carries ``retry_after_seconds`` as given (``1``, or ``0.05`` for fast tests) and
  ``retry-after-ms`` the same delay in milliseconds.
* Media of a run lives in its own ``reelbot-sim-run-*`` directory (inside ``media_dir`` when set),
  removed on stop unless ``keep_media``: jobs are in memory, so their files die with them.
* Unknown routes answer a JSON 404 ``Invalid URL (GET /v1/...)`` like OpenAI; only endpoints listed
  in ``unsupported_endpoints`` answer the plain-text ``404: Not Found`` of a gateway without the route.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import hmac
import logging
import random
import shutil
import socket
import string
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from bot.catalog import DEFAULT_CATALOG, Catalog, ModelSpec, parse_size
from bot.media import sniff_image_type
from bot.simulator.media import RenderedMedia, RenderSpec, render_media

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 32_000
MAX_IMAGE_URL_CHARS = 20_971_520
CLIENT_MAX_SIZE = 64 * 1024 * 1024
CREATE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")
REMIX_FIELDS = ("prompt",)
IMAGE_MIME_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}
VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
OPTIONAL_ENDPOINTS = frozenset({"list", "delete", "remix"})
FAILURE_MESSAGES = {
    "internal_error": "The video could not be generated because of an internal error. Please try again.",
    "video_generation_failed": "Video generation failed. Please try again, possibly with a different prompt.",
}
MODERATION_MESSAGE = "Your request was blocked by our moderation system."
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_OPAQUE_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


class ManualClock:
    """A clock for tests: ``config.clock = clock`` then ``clock.advance(5)`` instead of sleeping."""

    def __init__(self, start: float = 1_760_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class SimulatorConfig:
    """Every knob of the simulator.  Mutable: handlers read it on every request.

    Per-job values (``job_seconds``, ``queued_fraction``, ``fps``, ``expires_after_seconds``, the
    failure roll) are fixed when a job is created, so flipping them affects only later jobs.
    """

    catalog: Catalog = field(default_factory=lambda: DEFAULT_CATALOG)
    #: wall time (per ``clock``) from create to ``completed``/``failed``
    job_seconds: float = 20.0
    #: share of ``job_seconds`` spent ``queued`` before ``in_progress``
    queued_fraction: float = 0.1
    #: probability that a job ends ``failed`` (``internal_error`` / ``video_generation_failed``)
    failure_rate: float = 0.0
    #: seeds ids and failure rolls; ``None`` = unpredictable
    seed: int | None = None
    #: a prompt containing one of these (case-insensitive) is refused at create with 400 ``moderation_blocked``
    moderation_terms: tuple[str, ...] = ("[moderation-sync]",)
    #: a prompt containing one of these is accepted, then the job fails with ``moderation_blocked``
    async_moderation_terms: tuple[str, ...] = ("[moderation-async]",)
    #: ``POST /v1/moderations`` flags inputs containing one of these ...
    moderation_flag_terms: tuple[str, ...] = ("[flag-me]",)
    #: ... under these categories
    moderation_flag_categories: tuple[str, ...] = ("sexual",)
    #: the next N requests (any endpoint) answer 429; decremented per request
    rate_limit_burst: int = 0
    #: sent as ``Retry-After`` (and ``retry-after-ms``) with those 429s
    retry_after_seconds: float = 1
    #: when set, required as ``Authorization: Bearer``, ``api-key`` or ``x-litellm-api-key``
    api_key: str | None = None
    #: create with one of these models → 404 ``model_not_found``; hidden from ``/v1/models``
    retired_models: set[str] = field(default_factory=set)
    #: any of ``"list"``, ``"delete"``, ``"remix"``: answer a plain-text ``404: Not Found`` like a missing route
    unsupported_endpoints: set[str] = field(default_factory=set)
    #: ``None`` → ``video_`` + 48 hex; a number → opaque ids of that length (like gateways)
    id_length: int | None = None
    #: frames per second of rendered clips (frame count = seconds × fps)
    fps: int = 12
    #: where media is rendered (each run in its own ``reelbot-sim-run-*`` directory); ``None`` → the system temp dir
    media_dir: Path | None = None
    #: keep the run's media directory on stop (jobs live in memory, so by default their files go with them)
    keep_media: bool = False
    #: the next N creates make the job, then answer 500 (an ambiguous failure)
    fail_next_creates_with_500: int = 0
    #: ``expires_at = completed_at + expires_after_seconds``
    expires_after_seconds: int = 3600
    #: when set, ``GET /v1/videos/{id}`` of a running job carries ``openai-poll-after-ms``
    poll_after_ms: int | None = None
    #: the time source; swap in a :class:`ManualClock` to drive progress without sleeping
    clock: Callable[[], float] = time.time


class RecordedRequest(NamedTuple):
    method: str
    path: str
    status: int


@dataclass
class SimulatedJob:
    """One video job.  Status is a pure function of the clock; see :meth:`status_at`."""

    id: str
    sequence: int
    model: str
    prompt: str
    size: str
    seconds: int
    started: float
    duration: float
    queued_fraction: float
    fps: int
    expires_after: int
    failure: tuple[str, str] | None = None
    remixed_from_video_id: str | None = None
    reference_image: bytes | None = None
    request_content_type: str | None = None
    render_task: asyncio.Task[RenderedMedia] | None = field(default=None, repr=False)

    def status_at(self, now: float) -> tuple[str, int]:
        """``(status, progress)`` at clock time ``now``."""
        elapsed = now - self.started
        if elapsed >= self.duration:
            return ("failed", 0) if self.failure else ("completed", 100)
        if elapsed < self.duration * self.queued_fraction:
            return "queued", 0
        return "in_progress", min(99, max(1, int(100 * elapsed / self.duration)))

    def to_dict(self, now: float) -> dict[str, Any]:
        status, progress = self.status_at(now)
        finished_at = int(self.started + self.duration) if status in ("completed", "failed") else None
        return {
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": status,
            "progress": progress,
            "created_at": int(self.started),
            "completed_at": finished_at,
            "expires_at": finished_at + self.expires_after
            if status == "completed" and finished_at is not None
            else None,
            "prompt": self.prompt,
            "size": self.size,
            "seconds": str(self.seconds),
            "remixed_from_video_id": self.remixed_from_video_id,
            "error": {"code": self.failure[0], "message": self.failure[1]}
            if status == "failed" and self.failure
            else None,
        }


class ApiError(Exception):
    """An OpenAI-shaped error answer: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.headers = headers or {}

    def to_response(self) -> web.Response:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return web.json_response(body, status=self.status, headers=self.headers)


class SimulatorState:
    """Jobs, request log, randomness and rendered media of one simulator app."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.jobs: dict[str, SimulatedJob] = {}
        self.requests: list[RecordedRequest] = []
        self.render_count = 0
        self._sequence = 0
        self._cursor_sequences: dict[str, int] = {}
        self._rng_seed: int | None = None
        self._rng = random.Random(config.seed)
        self._id_rng = random.Random(None if config.seed is None else config.seed + 1)
        self._rng_seed = config.seed
        self._media_root: Path | None = None
        # Encoding gets its own small pool so it never starves the host process's default executor
        # (the bot, when it runs the simulator in-process, writes downloads through that one).
        self._render_pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="sim-render")

    # ----------------------------------------------------------------- randomness and ids

    def _reseed_if_changed(self) -> None:
        if self.config.seed != self._rng_seed:
            seed = self.config.seed
            self._rng = random.Random(seed)
            self._id_rng = random.Random(None if seed is None else seed + 1)
            self._rng_seed = seed

    def new_video_id(self) -> str:
        self._reseed_if_changed()
        while True:
            length = self.config.id_length
            if length is None:
                candidate = "video_" + "".join(self._id_rng.choices("0123456789abcdef", k=48))
            else:
                candidate = "".join(self._id_rng.choices(_OPAQUE_ID_ALPHABET, k=max(1, length)))
            if candidate not in self._cursor_sequences:
                return candidate

    def _roll_failure(self, prompt: str) -> tuple[str, str] | None:
        self._reseed_if_changed()
        roll = self._rng.random()
        code = self._rng.choice(sorted(FAILURE_MESSAGES))
        if _contains_any(prompt, self.config.async_moderation_terms):
            return "moderation_blocked", MODERATION_MESSAGE
        if roll < self.config.failure_rate:
            return code, FAILURE_MESSAGES[code]
        return None

    # ----------------------------------------------------------------- jobs

    def now(self) -> float:
        return self.config.clock()

    def add_job(
        self,
        *,
        model: str,
        prompt: str,
        size: str,
        seconds: int,
        reference_image: bytes | None = None,
        remixed_from: str | None = None,
        request_content_type: str | None = None,
    ) -> SimulatedJob:
        self._sequence += 1
        config = self.config
        job = SimulatedJob(
            id=self.new_video_id(),
            sequence=self._sequence,
            model=model,
            prompt=prompt,
            size=size,
            seconds=seconds,
            started=self.now(),
            duration=max(0.0, config.job_seconds),
            queued_fraction=min(1.0, max(0.0, config.queued_fraction)),
            fps=max(1, config.fps),
            expires_after=config.expires_after_seconds,
            failure=self._roll_failure(prompt),
            remixed_from_video_id=remixed_from,
            reference_image=reference_image,
            request_content_type=request_content_type,
        )
        self.jobs[job.id] = job
        self._cursor_sequences[job.id] = job.sequence
        return job

    def get_job(self, video_id: str) -> SimulatedJob:
        job = self.jobs.get(video_id)
        if job is None:
            raise ApiError(404, f"Video with id '{video_id}' not found.", code="not_found", param="video_id")
        return job

    def snapshot(self, job: SimulatedJob, *, prerender: bool = True) -> dict[str, Any]:
        """The job's Video object now; with ``prerender`` starts its render once it is seen completed."""
        body = job.to_dict(self.now())
        if prerender and body["status"] == "completed":
            self.ensure_render(job)
        return body

    def cursor_sequence(self, video_id: str) -> int | None:
        return self._cursor_sequences.get(video_id)

    # ----------------------------------------------------------------- media

    def media_root(self) -> Path:
        """This run's media directory: a fresh ``run-*`` directory inside ``media_dir`` (or the temp dir)."""
        if self._media_root is None:
            parent = self.config.media_dir
            if parent is not None:
                Path(parent).mkdir(parents=True, exist_ok=True)
            self._media_root = Path(tempfile.mkdtemp(prefix="reelbot-sim-run-", dir=parent))
        return self._media_root

    def job_media_dir(self, job: SimulatedJob) -> Path:
        return self.media_root() / f"job-{job.sequence:06d}"

    def ensure_render(self, job: SimulatedJob) -> asyncio.Task[RenderedMedia]:
        """Start (once) rendering a completed job's media in a worker thread."""
        if job.render_task is None:
            job.render_task = asyncio.create_task(self._render(job), name=f"render {job.sequence}")
            job.render_task.add_done_callback(_log_render_failure)
        return job.render_task

    async def _render(self, job: SimulatedJob) -> RenderedMedia:
        width, height = parse_size(job.size)
        label = "SIMULATED REMIX" if job.remixed_from_video_id else "SIMULATED"
        spec = RenderSpec(
            width=width,
            height=height,
            seconds=job.seconds,
            fps=job.fps,
            prompt=job.prompt,
            label=label,
            seed=job.sequence,
            reference_image=job.reference_image,
        )
        loop = asyncio.get_running_loop()
        media = await loop.run_in_executor(self._render_pool, render_media, spec, self.job_media_dir(job))
        self.render_count += 1
        return media

    async def media_for(self, job: SimulatedJob) -> RenderedMedia:
        task = self.ensure_render(job)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            job.render_task = None  # let the next request try again
            raise ApiError(500, "The simulator failed to render this video.", type="server_error") from exc

    async def discard(self, job: SimulatedJob) -> None:
        """Forget a job and delete its files (after any running render has finished)."""
        self.jobs.pop(job.id, None)
        if job.render_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(job.render_task)
        if self._media_root is not None:
            await asyncio.to_thread(shutil.rmtree, self.job_media_dir(job), True)

    async def close(self) -> None:
        tasks = [job.render_task for job in self.jobs.values() if job.render_task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._render_pool.shutdown(wait=False)
        if self._media_root is not None and not self.config.keep_media:
            await asyncio.to_thread(shutil.rmtree, self._media_root, True)
            self._media_root = None


def _log_render_failure(task: asyncio.Task[RenderedMedia]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("simulator render failed", exc_info=task.exception())


STATE_KEY: web.AppKey[SimulatorState] = web.AppKey("simulator_state", SimulatorState)


def _state(request: web.Request) -> SimulatorState:
    return request.app[STATE_KEY]


# --------------------------------------------------------------------------- helpers


def _contains_any(text: str, terms: Iterable[str]) -> bool:
    lowered = text.lower()
    return any(term and term.lower() in lowered for term in terms)


def _quoted_choices(values: Iterable[str], conjunction: str = "and") -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} {conjunction} {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", {conjunction} {quoted[-1]}"


def _invalid_value(value: str, supported: Iterable[str], param: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid value: '{value}'. Supported values are: {_quoted_choices(supported)}.",
        code="invalid_value",
        param=param,
    )


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, web.FileField):
        return "a file"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _invalid_type(param: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        code="invalid_type",
        param=param,
    )


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _json(body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, headers=headers)


async def _read_body(request: web.Request, allowed: tuple[str, ...]) -> tuple[dict[str, Any], bool]:
    """The request's parameters and whether they came as a form (multipart/urlencoded) or JSON."""
    content_type = request.content_type
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        try:
            form = await request.post()
        except ValueError as exc:
            raise ApiError(400, f"Could not parse the multipart form body: {exc}") from exc
        body: Any = {
            key: value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else value
            for key, value in ((k, form.getone(k)) for k in dict.fromkeys(form.keys()))
        }
        is_form = True
    elif not request.body_exists:
        body, is_form = {}, False
    elif content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise ApiError(
                400,
                "We could not parse the JSON body of your request. The API expects a JSON payload, "
                "but what was sent was not valid JSON.",
            ) from exc
        is_form = False
    else:
        raise ApiError(
            400,
            f"Unsupported content type: '{content_type}'. This endpoint accepts 'application/json' "
            "and 'multipart/form-data' requests.",
            code="unsupported_content_type",
        )
    if not isinstance(body, dict):
        raise _invalid_type("body", "an object", body)
    unknown = next((key for key in body if key not in allowed), None)
    if unknown is not None:
        raise ApiError(400, f"Unknown parameter: '{unknown}'.", code="unknown_parameter", param=unknown)
    return body, is_form


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid_type(name, "a string", value)
    return value


def _prompt(body: dict[str, Any]) -> str:
    if "prompt" not in body:
        raise ApiError(400, "Missing required parameter: 'prompt'.", code="missing_required_parameter", param="prompt")
    prompt = body["prompt"]
    if not isinstance(prompt, str):
        raise _invalid_type("prompt", "a string", prompt)
    if not prompt:
        raise ApiError(
            400,
            "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
            code="invalid_value",
            param="prompt",
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length {MAX_PROMPT_CHARS}, "
            f"but got a string with length {len(prompt)} instead.",
            code="invalid_value",
            param="prompt",
        )
    return prompt


def _check_moderation(config: SimulatorConfig, prompt: str) -> None:
    if _contains_any(prompt, config.moderation_terms):
        raise ApiError(400, MODERATION_MESSAGE, code="moderation_blocked")


def _model_spec(config: SimulatorConfig, requested: str | None) -> ModelSpec:
    model_id = requested if requested is not None else config.catalog.default_model.id
    if model_id in config.retired_models:
        raise ApiError(
            404,
            f"The model `{model_id}` does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        )
    spec = config.catalog.get(model_id)
    if spec is None:
        offered = [m.id for m in config.catalog.models if m.id not in config.retired_models]
        raise _invalid_value(model_id, offered, "model")
    return spec


@dataclass(frozen=True)
class _CreateParams:
    model: str
    prompt: str
    size: str
    seconds: int
    reference_image: bytes | None


def _create_params(config: SimulatorConfig, body: dict[str, Any], is_form: bool) -> _CreateParams:
    for name in ("model", "size", "seconds"):
        _optional_string(body, name)
    prompt = _prompt(body)
    spec = _model_spec(config, _optional_string(body, "model"))
    size = _optional_string(body, "size") or spec.default_size or spec.sizes[0]
    if size not in spec.sizes:
        raise _invalid_value(size, spec.sizes, "size")
    seconds_text = _optional_string(body, "seconds") or str(spec.default_seconds)
    allowed_seconds = [str(s) for s in spec.seconds]
    if seconds_text not in allowed_seconds:
        raise _invalid_value(seconds_text, allowed_seconds, "seconds")
    reference = _reference_image(body.get("input_reference"), is_form, size) if "input_reference" in body else None
    _check_moderation(config, prompt)
    return _CreateParams(spec.id, prompt, size, int(seconds_text), reference)


# --------------------------------------------------------------------------- input_reference


def _reference_image(value: Any, is_form: bool, size: str) -> bytes | None:
    if is_form:
        if not isinstance(value, web.FileField):
            raise _invalid_type("input_reference", "a file", value)
        data = value.file.read()
        return _checked_image(data, value.content_type, size)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid_type("input_reference", "an object", value)
    return _reference_from_object(value, size)


def _reference_from_object(value: dict[str, Any], size: str) -> bytes | None:
    unknown = next((key for key in value if key not in ("image_url", "file_id")), None)
    if unknown is not None:
        param = f"input_reference.{unknown}"
        raise ApiError(400, f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)
    if len(value) != 1:
        raise ApiError(
            400,
            "Invalid 'input_reference': provide exactly one of 'image_url' or 'file_id'.",
            code="invalid_value",
            param="input_reference",
        )
    if "file_id" in value:
        raise ApiError(
            400,
            "Invalid 'input_reference.file_id': the simulator has no Files API; upload the image as a file "
            "part or send it as a base64 data URL in 'image_url'.",
            code="invalid_value",
            param="input_reference.file_id",
        )
    url = value["image_url"]
    if not isinstance(url, str):
        raise _invalid_type("input_reference.image_url", "a string", url)
    if len(url) > MAX_IMAGE_URL_CHARS:
        raise ApiError(
            400,
            f"Invalid 'input_reference.image_url': string too long (maximum {MAX_IMAGE_URL_CHARS} characters).",
            code="invalid_value",
            param="input_reference.image_url",
        )
    if url.startswith(("http://", "https://")):
        return None  # accepted, never fetched: the simulator has no outbound network
    return _image_from_data_url(url, size)


def _image_from_data_url(url: str, size: str) -> bytes:
    header, sep, payload = url.partition(",")
    if not (url.startswith("data:") and sep and header.endswith(";base64")):
        raise ApiError(
            400,
            "Invalid 'input_reference.image_url': expected an http(s) URL or a base64 data URL.",
            code="invalid_value",
            param="input_reference.image_url",
        )
    mime = header[len("data:") : -len(";base64")]
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(
            400,
            "Invalid 'input_reference.image_url': the data URL is not valid base64.",
            code="invalid_value",
            param="input_reference.image_url",
        ) from exc
    return _checked_image(data, mime, size)


def _checked_image(data: bytes, content_type: str, size: str) -> bytes:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in IMAGE_MIME_TYPES:
        raise ApiError(
            400,
            f"Invalid file 'input_reference': unsupported mimetype ('{mime}'). Supported file formats are "
            f"{_quoted_choices(sorted(IMAGE_MIME_TYPES))}.",
            code="invalid_value",
            param="input_reference",
        )
    if sniff_image_type(data) != IMAGE_MIME_TYPES[mime]:
        raise ApiError(
            400,
            f"Invalid file 'input_reference': the data is not a valid {mime} image.",
            code="invalid_value",
            param="input_reference",
        )
    try:
        with Image.open(BytesIO(data)) as image:
            dimensions = image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ApiError(
            400,
            f"Invalid file 'input_reference': the data is not a valid {mime} image.",
            code="invalid_value",
            param="input_reference",
        ) from exc
    if dimensions != parse_size(size):
        raise ApiError(
            400,
            "Inpaint image must match the requested width and height",
            code="invalid_value",
            param="input_reference",
        )
    return data


# --------------------------------------------------------------------------- handlers


async def create_video(request: web.Request) -> web.Response:
    state = _state(request)
    body, is_form = await _read_body(request, CREATE_FIELDS)
    params = _create_params(state.config, body, is_form)
    job = state.add_job(
        model=params.model,
        prompt=params.prompt,
        size=params.size,
        seconds=params.seconds,
        reference_image=params.reference_image,
        request_content_type=request.content_type,
    )
    if state.config.fail_next_creates_with_500 > 0:
        state.config.fail_next_creates_with_500 -= 1
        log.info("simulator: created %s but answering 500 as configured", job.id)
        raise ApiError(
            500, "The server had an error while processing your request. Sorry about that!", type="server_error"
        )
    return _json(state.snapshot(job))


async def retrieve_video(request: web.Request) -> web.Response:
    state = _state(request)
    job = state.get_job(request.match_info["video_id"])
    body = state.snapshot(job)
    headers = {}
    if state.config.poll_after_ms is not None and body["status"] in ("queued", "in_progress"):
        headers["openai-poll-after-ms"] = str(state.config.poll_after_ms)
    return _json(body, headers)


def _list_limit(raw: str | None) -> int:
    if raw is None:
        return 20
    try:
        limit = int(raw)
    except ValueError as exc:
        raise ApiError(
            400, f"Invalid 'limit': expected an integer, but got '{raw}' instead.", code="invalid_type", param="limit"
        ) from exc
    if not 1 <= limit <= 100:
        raise ApiError(
            400,
            f"Invalid 'limit': expected a value between 1 and 100, but got {limit} instead.",
            code="invalid_value",
            param="limit",
        )
    return limit


async def list_videos(request: web.Request) -> web.Response:
    state = _state(request)
    limit = _list_limit(request.query.get("limit"))
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise _invalid_value(order, ("asc", "desc"), "order")
    jobs = sorted(state.jobs.values(), key=lambda j: j.sequence, reverse=order == "desc")
    after = request.query.get("after")
    if after:
        cursor = state.cursor_sequence(after)
        if cursor is None:
            raise ApiError(400, f"Invalid 'after': no video with id '{after}'.", code="invalid_value", param="after")
        jobs = [j for j in jobs if (j.sequence < cursor if order == "desc" else j.sequence > cursor)]
    page = jobs[:limit]
    data = [state.snapshot(job, prerender=False) for job in page]
    return _json(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(jobs) > limit,
        }
    )


async def delete_video(request: web.Request) -> web.Response:
    state = _state(request)
    job = state.get_job(request.match_info["video_id"])
    status, _ = job.status_at(state.now())
    if status not in ("completed", "failed"):
        raise ApiError(
            400,
            f"Video '{job.id}' is still {status}; only completed or failed videos can be deleted.",
            code="video_in_progress",
            param="video_id",
        )
    await state.discard(job)
    return _json({"id": job.id, "object": "video.deleted", "deleted": True})


def _require_completed(state: SimulatorState, job: SimulatedJob, action: str) -> None:
    status, progress = job.status_at(state.now())
    if status == "completed":
        return
    if status == "failed":
        message = f"Video '{job.id}' failed; it has nothing to {action}."
    else:
        message = f"Video '{job.id}' is not completed yet (status {status}, {progress}%); {action} it once it is."
    raise ApiError(400, message, code="video_not_completed", param="video_id")


async def download_content(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    variant = request.query.get("variant", "video")
    if variant not in VARIANTS:
        raise _invalid_value(variant, VARIANTS, "variant")
    job = state.get_job(request.match_info["video_id"])
    _require_completed(state, job, "download")
    media = await state.media_for(job)
    path = {"video": media.video, "thumbnail": media.thumbnail, "spritesheet": media.spritesheet}[variant]
    return web.FileResponse(path, headers={"Content-Type": VARIANTS[variant]})


async def remix_video(request: web.Request) -> web.Response:
    state = _state(request)
    body, _ = await _read_body(request, REMIX_FIELDS)
    prompt = _prompt(body)
    source = state.get_job(request.match_info["video_id"])
    _require_completed(state, source, "remix")
    _check_moderation(state.config, prompt)
    job = state.add_job(
        model=source.model,
        prompt=prompt,
        size=source.size,
        seconds=source.seconds,
        remixed_from=source.id,
        request_content_type=request.content_type,
    )
    return _json(state.snapshot(job))


def _model_object(spec: ModelSpec) -> dict[str, Any]:
    return {"id": spec.id, "object": "model", "created": 0, "owned_by": "reelbot-simulator"}


async def list_models(request: web.Request) -> web.Response:
    config = _state(request).config
    data = [_model_object(m) for m in config.catalog.models if m.id not in config.retired_models]
    return _json({"object": "list", "data": data})


async def retrieve_model(request: web.Request) -> web.Response:
    config = _state(request).config
    model_id = request.match_info["model"]
    spec = config.catalog.get(model_id)
    if spec is None or model_id in config.retired_models:
        raise ApiError(
            404, f"The model `{model_id}` does not exist or you do not have access to it.", code="model_not_found"
        )
    return _json(_model_object(spec))


def _moderation_texts(value: Any) -> list[str]:
    """One text per result: a string, a list of strings, or one multimodal list (one result)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return [" ".join(str(item.get("text", "")) for item in value if item.get("type") == "text")]
    raise _invalid_type("input", "a string, an array of strings or an array of objects", value)


def _moderation_result(config: SimulatorConfig, text: str) -> dict[str, Any]:
    flagged = _contains_any(text, config.moderation_flag_terms)
    hit = set(config.moderation_flag_categories) if flagged else set()
    names = list(dict.fromkeys([*MODERATION_CATEGORIES, *hit]))
    return {
        "flagged": flagged,
        "categories": {name: name in hit for name in names},
        "category_scores": {name: 0.98 if name in hit else 0.0001 for name in names},
        "category_applied_input_types": {name: ["text"] for name in names},
    }


async def create_moderation(request: web.Request) -> web.Response:
    state = _state(request)
    body, _ = await _read_body(request, ("input", "model"))
    if "input" not in body:
        raise ApiError(400, "Missing required parameter: 'input'.", code="missing_required_parameter", param="input")
    model = _optional_string(body, "model") or "omni-moderation-latest"
    results = [_moderation_result(state.config, text) for text in _moderation_texts(body["input"])]
    return _json({"id": f"modr-{uuid.uuid4().hex}", "model": model, "results": results})


# --------------------------------------------------------------------------- middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_ENDPOINT_NAMES: dict[Handler, str] = {list_videos: "list", delete_video: "delete", remix_video: "remix"}


def _authorized(request: web.Request, key: str) -> bool:
    offered = [
        request.headers.get("api-key"),
        request.headers.get("x-litellm-api-key"),
    ]
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer":
        offered.append(token.strip())
    return any(value is not None and hmac.compare_digest(value.encode(), key.encode()) for value in offered)


def _rate_limited(config: SimulatorConfig) -> ApiError:
    delay = max(0.0, float(config.retry_after_seconds))
    return ApiError(
        429,
        f"Rate limit reached for requests. Please try again in {_format_seconds(delay)}s.",
        code="rate_limit_exceeded",
        type="requests",
        headers={"Retry-After": _format_seconds(delay), "retry-after-ms": str(round(delay * 1000))},
    )


async def _guarded(request: web.Request, handler: Handler, state: SimulatorState) -> web.StreamResponse:
    config = state.config
    match_info = request.match_info
    if match_info.http_exception is not None:
        status = match_info.http_exception.status
        message = f"Invalid URL ({request.method} {request.path})" if status == 404 else "Method not allowed."
        raise ApiError(status, message)
    if _ENDPOINT_NAMES.get(match_info.handler) in config.unsupported_endpoints:
        return web.Response(status=404, text="404: Not Found")
    if config.api_key is not None and not _authorized(request, config.api_key):
        raise ApiError(
            401,
            "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>', 'api-key' or 'x-litellm-api-key'.",
            code="invalid_api_key",
        )
    if config.rate_limit_burst > 0:
        config.rate_limit_burst -= 1
        raise _rate_limited(config)
    return await handler(request)


@web.middleware
async def _simulator_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = _state(request)
    try:
        response = await _guarded(request, handler, state)
    except ApiError as exc:
        response = exc.to_response()
    except web.HTTPException as exc:  # e.g. 413 from the body reader
        response = ApiError(exc.status, exc.reason).to_response()
    except Exception:
        log.exception("simulator: unhandled error on %s %s", request.method, request.path)
        response = ApiError(500, "The simulator hit an internal error.", type="server_error").to_response()
    response.headers["x-request-id"] = f"req_{uuid.uuid4().hex}"
    state.requests.append(RecordedRequest(request.method, request.path, response.status))
    return response


async def _on_cleanup(app: web.Application) -> None:
    await app[STATE_KEY].close()


def create_app(config: SimulatorConfig | None = None) -> web.Application:
    """The simulator as an aiohttp application (routes under ``/v1``)."""
    app = web.Application(middlewares=[_simulator_middleware], client_max_size=CLIENT_MAX_SIZE)
    app[STATE_KEY] = SimulatorState(config if config is not None else SimulatorConfig())
    app.router.add_post("/v1/videos", create_video)
    app.router.add_get("/v1/videos", list_videos)
    app.router.add_get("/v1/videos/{video_id}", retrieve_video)
    app.router.add_delete("/v1/videos/{video_id}", delete_video)
    app.router.add_get("/v1/videos/{video_id}/content", download_content)
    app.router.add_post("/v1/videos/{video_id}/remix", remix_video)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model}", retrieve_model)
    app.router.add_post("/v1/moderations", create_moderation)
    app.on_cleanup.append(_on_cleanup)
    return app


# --------------------------------------------------------------------------- server


class SimulatorServer:
    """The simulator on a real loopback port.

    ``base_url`` includes ``/v1`` so it can be handed to any OpenAI-compatible client unchanged.
    One instance serves once: ``start`` → ``stop`` (or ``async with``).
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.app = create_app(config)
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None

    @property
    def state(self) -> SimulatorState:
        return self.app[STATE_KEY]

    @property
    def config(self) -> SimulatorConfig:
        return self.state.config

    @config.setter
    def config(self, config: SimulatorConfig) -> None:
        self.state.config = config

    @property
    def jobs(self) -> dict[str, SimulatedJob]:
        return self.state.jobs

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    @property
    def render_count(self) -> int:
        return self.state.render_count

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the simulator is not running")
        return self._port

    @property
    def root_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 picks a free port) and return the base URL including ``/v1``."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            sock = socket.create_server((host, port))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        self._port = sock.getsockname()[1]
        log.info("video API simulator listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Stop serving, wait for running renders and remove the temporary media directory."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> SimulatorServer:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
