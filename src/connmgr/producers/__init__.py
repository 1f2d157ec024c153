"""Producers: the Python client of the write side and the CLI commands built on it.

Imports only ``connmgr.schemas``. ``Producer`` publishes commands and awaits their
outcomes, a connection described by a ``ConnectionSpec`` (re-exported here from
``connmgr.schemas.connection_spec``); ``api_client`` reads the API; ``cli.register``
mounts the CLI commands.
"""

from connmgr.producers.client import Producer
from connmgr.producers.errors import (
    InvalidCommand,
    OutcomeTimeout,
    ProducerError,
    PublishFailed,
    SealKeyUnavailable,
)
from connmgr.producers.wire import RetryingPublisher, RetryPolicy
from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec

__all__ = [
    "ConnectionChanges",
    "ConnectionSpec",
    "InvalidCommand",
    "OutcomeTimeout",
    "Producer",
    "ProducerError",
    "PublishFailed",
    "RetryPolicy",
    "RetryingPublisher",
    "SealKeyUnavailable",
]
