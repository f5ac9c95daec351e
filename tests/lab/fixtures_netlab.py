"""Pytest fixtures of the lab's network: home, the ISP and the mail host in namespaces."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.common import LabError, LabUser, lab_failure
from tests.lab.netlab import NetLab, start_netlab

# The tests' link: a few milliseconds each way, so that what crosses it is a real network
# without making the suite slow. The benchmarks set 0, 40 and 100 ms.
TEST_RTT_MS = 4.0


@pytest.fixture(scope="session")
def netlab(lab_user: LabUser) -> Iterator[NetLab]:
    """The case study's network with its servers; fails (never skips) if it cannot start."""
    try:
        lab = start_netlab(lab_user, rtt_ms=TEST_RTT_MS)
    except LabError as exc:
        lab_failure(exc)
        raise
    yield lab
    lab.stop()
