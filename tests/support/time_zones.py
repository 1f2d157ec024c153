"""The host's local time zone, set for a block of a test.

A test on a host whose local zone is UTC cannot tell local time from UTC; inside
``local_time_zone(HALF_HOUR_AHEAD)`` a moment read as local time is 5 h 30 min off.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

HALF_HOUR_AHEAD: Final = "IST-5:30"
"""POSIX spelling of India's zone: UTC+05:30 all year, no daylight saving time."""


@contextmanager
def local_time_zone(zone: str) -> Iterator[None]:
    """``TZ`` set to ``zone`` (POSIX or tz database name) inside the block, then put back."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
