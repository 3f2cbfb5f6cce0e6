"""Fixtures for the /v1/videos simulator.

* ``simulator_config`` — a fast :class:`SimulatorConfig` (jobs finish in half a second of real time,
  4 fps renders, fixed seed).  Override it in a test module to change the knobs before start; or flip
  ``simulator.config.<knob>`` at run time, it is read on every request.
* ``simulator`` — a started :class:`SimulatorServer` on 127.0.0.1 (random port); ``simulator.base_url``
  includes ``/v1``.  Stopped, and its media removed, after the test.
* ``simulator_clock`` — installs a :class:`ManualClock` into the running simulator, so a test advances
  job progress with ``simulator_clock.advance(seconds)`` instead of sleeping.  Request it before
  creating jobs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.simulator import ManualClock, SimulatorConfig, SimulatorServer


@pytest.fixture
def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(job_seconds=0.5, fps=4, seed=1234)


@pytest.fixture
async def simulator(simulator_config: SimulatorConfig) -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer(simulator_config) as server:
        yield server


@pytest.fixture
def simulator_clock(simulator: SimulatorServer) -> ManualClock:
    clock = ManualClock()
    simulator.config.clock = clock
    return clock
