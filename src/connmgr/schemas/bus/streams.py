"""The bus's JetStream streams and KV bucket: their names and what they take.

``workers/streams.py`` declares each stream from these names, with the retention
the package docstring gives. ``MAX_COMMAND_BYTES`` is the limit a command is held
to, below the stream's own, so that an oversized command is still stored and its
rejection recorded (``docs/security.md``, "Inputs are bounded").
``DUPLICATE_WINDOW_S`` is how long the server remembers a ``Nats-Msg-Id``: a
producer's retry of a publish within it is stored once (``docs/reliability.md``).
"""

from __future__ import annotations

from typing import Final

COMMAND_STREAM: Final = "CONNMGR_CMD"
EVENT_STREAM: Final = "CONNMGR_EVT"
DEAD_LETTER_STREAM: Final = "CONNMGR_DLQ"
SCHEDULE_STREAM: Final = "CONNMGR_SCHED"
"""Only the prober writes and reads it: the keeper puts one schedule per connection,
and the prober consumes the firings through its own durable (issue 9)."""
UPGRADE_STREAM: Final = "CONNMGR_CMD_UPGRADE"
"""Holds the command stream's messages while an upgrade re-creates that stream."""

KEYS_BUCKET: Final = "connmgr_keys"
SEAL_KEY_ENTRY: Final = "seal"

MAX_COMMAND_BYTES: Final = 64 * 1024
DUPLICATE_WINDOW_S: Final = 120.0
