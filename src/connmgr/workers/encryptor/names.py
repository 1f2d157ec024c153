"""Unique connection names per tenant, as a batch decides its commands.

``TenantNames`` starts from who holds each name a batch asks for
(``storage.connection_names.holders_of``) and follows the batch's own accepted
commands, so a create and a rename in one batch see each other. A create, or an
update that changes the name, is refused with ``name_taken`` when another live
connection of the tenant holds the name; an update that keeps the name is never
refused for it, so a connection among older duplicates can still change (and be
renamed out of the clash). The batch reads the holders again under the chain
head and plans again if they moved (``batch``), so two replicas cannot both
hand out a name (``docs/decisions.md``, "Unique names").
"""

from __future__ import annotations

from collections.abc import Mapping

from connmgr.schemas.commands import CreateConnection, EncryptorCommand, UpdateConnection
from connmgr.schemas.outcomes import Rejection
from connmgr.storage.connection_names import NameKey
from connmgr.storage.projection import ConnectionState
from connmgr.workers.encryptor.decisions import name_taken


def wanted_name(command: EncryptorCommand) -> NameKey | None:
    """The ``(tenant, name)`` a create or an update asks for, or None."""
    match command:
        case CreateConnection() | UpdateConnection() if command.payload.name is not None:
            return (command.actor.tenant, command.payload.name)
    return None


class TenantNames:
    def __init__(self, holders: Mapping[NameKey, frozenset[str]]) -> None:
        self._holders = {key: set(ids) for key, ids in holders.items()}

    def clash(self, command: EncryptorCommand, current: ConnectionState | None) -> Rejection | None:
        """``name_taken`` when ``command`` would give its connection a name another holds."""
        key = wanted_name(command)
        if key is None or (current is not None and not current.deleted and current.name == key[1]):
            return None
        others = self._holders.get(key, set()) - {str(command.connection_id)}
        return name_taken() if others else None

    def moved(self, before: ConnectionState | None, after: ConnectionState | None) -> None:
        """Follow an accepted command: the name ``before`` held is free, ``after``'s taken."""
        for state, holds in ((before, False), (after, True)):
            if state is None or state.deleted:
                continue
            ids = self._holders.setdefault((state.tenant, state.name), set())
            if holds:
                ids.add(state.id)
            else:
                ids.discard(state.id)
