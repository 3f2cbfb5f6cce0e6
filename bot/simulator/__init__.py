"""A local simulator of the OpenAI Videos API (``/v1/videos``) for tests and key-less operators.

Usage::

    async with SimulatorServer(SimulatorConfig(job_seconds=5)) as server:
        ...  # point any OpenAI-compatible client at server.base_url, e.g. http://127.0.0.1:54321/v1

``create_app(config)`` gives the bare aiohttp application; ``ManualClock`` drives job progress in tests.
"""

from bot.simulator.app import (
    ManualClock,
    RecordedRequest,
    SimulatedJob,
    SimulatorConfig,
    SimulatorServer,
    create_app,
)

__all__ = [
    "ManualClock",
    "RecordedRequest",
    "SimulatedJob",
    "SimulatorConfig",
    "SimulatorServer",
    "create_app",
]
