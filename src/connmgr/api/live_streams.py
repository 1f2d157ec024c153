"""The live feed's state in one API process: its log reader and its streams per token.

Held in the application (``app_state.STREAMS``); ``live_feed`` serves the streams.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from connmgr.api.log_fanout import LogFanout
from connmgr.api.problems import Problem, ProblemError

HEARTBEAT_S: Final = 15.0
STREAMS_PER_TOKEN: Final = 8
TOO_MANY: Final = "urn:connmgr:problem:too-many-streams"


@dataclass
class LiveFeed:
    """The process's fan-out and its per-token stream counts."""

    fanout: LogFanout
    heartbeat_s: float = HEARTBEAT_S
    per_token: int = STREAMS_PER_TOKEN

    def __post_init__(self) -> None:
        self._open: Counter[str] = Counter()

    @contextmanager
    def slot(self, token: str) -> Iterator[None]:
        """Hold one of the token's streams; a ``429`` problem when all are taken."""
        key = hashlib.sha256(token.encode()).hexdigest()
        if self._open[key] >= self.per_token:
            detail = f"This token already has {self.per_token} open event streams."
            problem = Problem(type=TOO_MANY, title="Too many requests", status=429, detail=detail)
            raise ProblemError(problem, {"Retry-After": str(int(self.heartbeat_s) or 1)})
        self._open[key] += 1
        try:
            yield
        finally:
            self._open[key] -= 1
            if not self._open[key]:
                del self._open[key]
