"""Fixtures of the reflection tests: peers on 127.0.0.1 that echo what they were sent.

- ``serve`` (``tests/checks/conftest.py``): aiohttp servers on 127.0.0.1.
- ``egress``: loopback explicitly allowed (these peers are local).
"""

from __future__ import annotations

import pytest

from connmgr.workers.egress import Egress, EgressPolicy


@pytest.fixture
def egress() -> Egress:
    return Egress(EgressPolicy(allow_loopback=True))
