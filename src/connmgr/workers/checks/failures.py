"""The one failure type every check raises for a failure it recognised itself."""

from __future__ import annotations

from connmgr.workers.checks.base import Outcome


class CheckFailed(Exception):
    """A failure with its outcome and fixed detail sentence, raised by the check's own code.

    The sentence is chosen by the check: never a driver message, a banner or a
    secret. Each check's run turns it into a result with exactly this outcome
    and detail.
    """

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
