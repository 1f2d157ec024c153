"""The one error of the benches."""

from __future__ import annotations


class BenchError(RuntimeError):
    """A bench could not set up or did not see the effects it waited for."""
