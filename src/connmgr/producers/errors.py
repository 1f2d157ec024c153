"""Errors a producer raises on purpose.

None carries a secret, an input value or a raw driver message: they name the
command and connection ids so a caller can look the command up later.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from connmgr.schemas.outcomes import FieldError


class ProducerError(Exception):
    """Base of every error the producer raises on purpose."""


class SealKeyUnavailable(ProducerError):
    """The encryptor's seal key is not published, unreadable or unusable."""


class InvalidCommand(ProducerError):
    """The command failed local validation; nothing was published.

    ``errors`` names the fields concerned, never their values.
    """

    def __init__(self, message: str, errors: Sequence[FieldError] = ()) -> None:
        self.errors = tuple(errors)
        details = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(f"{message}: {details}" if details else message)


class PublishFailed(ProducerError):
    """JetStream did not acknowledge the command after every attempt.

    The command may or may not be stored. Re-publishing the same bytes with the
    same ``Nats-Msg-Id`` within the stream's duplicate window is safe.
    """

    def __init__(self, command_id: str, attempts: int, last_error: str) -> None:
        self.command_id = command_id
        self.attempts = attempts
        super().__init__(
            f"command {command_id} was not acknowledged by JetStream after "
            f"{attempts} attempt(s) (last error: {last_error})"
        )


class OutcomeTimeout(ProducerError):
    """JetStream stored the command but no outcome arrived in time.

    The command may still be handled: look the connection up later.
    """

    def __init__(self, command_id: UUID, connection_id: UUID, timeout_s: float) -> None:
        self.command_id = command_id
        self.connection_id = connection_id
        self.timeout_s = timeout_s
        super().__init__(
            f"no outcome for command {command_id} (connection {connection_id}) within "
            f"{timeout_s:g}s; it is stored and may still be handled, check the connection later"
        )
