"""The collector's settings for a long-running process, applied once it has started.

A worker or the API holds about 150,000 objects once started (modules, classes,
schemas, the SQLAlchemy and aiohttp machinery), none of which will ever be garbage.
CPython's cyclic collector walks all of them at every full collection, and the young
generation is collected after every 700 net allocations of container objects, which a
batch of commands makes many times over. On the encryptor that was about 70 µs of CPU
per command, more than the HPKE unseal (``docs/decisions.md``, "The collector leaves
the start-up heap alone").

``settle_heap`` is called once a process has started (its pool running, its API
bound): it collects what start-up left, moves every surviving object out of the
collector's reach (``gc.freeze``), and collects the young generation every
``YOUNG_THRESHOLD`` net allocations instead of 700. Reference counting still frees
everything acyclic at once, and the collector still runs: a cycle made later is
found, just after more allocations than before, so the memory it holds waits a
little longer (bounded by the threshold, not by time).
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 10_000
"""Net allocations of container objects between young-generation collections
(CPython's default is 700; the older generations keep their default ratios)."""


def settle_heap() -> None:
    """Collect, freeze the survivors, and raise the young generation's threshold."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
