"""``plan``: what applying a connections file would change, field by field. Pure.

A file's connection is matched to the tenant's live connection of the same name
(names are unique per tenant, ``docs/decisions.md``, "Unique names"):

- none: a **create**, with an id chosen now (so ``depends_on`` can name it);
- one this file's source manages: an **update** of the fields that differ, or
  nothing; secrets are sent again only when their field names change or a change
  moves them (``schemas.secret_destinations``), since values cannot be compared;
- one unmanaged (no managed-by tag): a problem, unless ``adopt`` (then an update
  that adds this source's marker); one another source manages: always a problem;
- with ``prune``, each connection this source manages that the file no longer
  names is a **delete**; another source's or an unmanaged one never is.

Any problem stops ``apply`` before it sends anything. Every create, update and
delete carries the version it was planned on, sent as ``expected_version``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from connmgr.schemas.declared.connection import DeclaredConnection
from connmgr.schemas.declared.file import DeclaredFile
from connmgr.schemas.health import HealthCheckSettings
from connmgr.schemas.kinds import Kind
from connmgr.schemas.secret_destinations import moved_fields

from .declared_state import Existing


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Desired:
    """A file's connection as the command will carry it: ids resolved, template merged."""

    declared: DeclaredConnection
    connection_id: str
    config: dict[str, Any]
    auth: dict[str, Any]
    health: HealthCheckSettings
    tags: tuple[str, ...]
    notify: dict[str, Any] | None
    """None when the file gives no recipients and no sender: stored as no field."""

    @property
    def health_check(self) -> dict[str, Any]:
        return self.health.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class Create:
    desired: Desired


@dataclass(frozen=True, slots=True)
class Update:
    desired: Desired
    existing: Existing
    changes: tuple[FieldChange, ...]
    resend_secrets: bool


@dataclass(frozen=True, slots=True)
class Delete:
    existing: Existing


@dataclass
class Plan:
    source: str
    creates: list[Create] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unpruned: list[str] = field(default_factory=list)
    """Names this source manages that the file no longer lists (kept: no ``--prune``)."""

    @property
    def changes(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


def make_plan(
    declared: DeclaredFile, existing: list[Existing], *, prune: bool = False, adopt: bool = False
) -> Plan:
    plan = Plan(declared.source)
    by_name: dict[str, list[Existing]] = {}
    for connection in existing:
        by_name.setdefault(connection.name, []).append(connection)
    ids = _ids(declared, by_name)
    for wanted in declared.connections:
        held = by_name.get(wanted.name, [])
        if _refused(wanted.name, held, declared.source, adopt, plan):
            continue
        if (desired := _desired(wanted, ids, declared.marker, plan)) is None:
            continue
        if not held:
            plan.creates.append(Create(desired))
        elif (update := _update(desired, held[0])) is not None:
            plan.updates.append(update)
    for connection in existing:
        if declared.source not in connection.managers or connection.name in ids.names:
            continue
        if prune:
            plan.deletes.append(Delete(connection))
        else:
            plan.unpruned.append(connection.name)
    return plan


@dataclass(frozen=True, slots=True)
class _Ids:
    of: dict[str, str]
    names: frozenset[str]


def _ids(declared: DeclaredFile, by_name: dict[str, list[Existing]]) -> _Ids:
    """Each name's connection id: the tenant's, or a new one for a create."""
    of = {name: held[0].id for name, held in by_name.items() if len(held) == 1}
    for wanted in declared.connections:
        if wanted.name not in by_name:
            of[wanted.name] = str(uuid.uuid4())
    return _Ids(of, frozenset(w.name for w in declared.connections))


def _refused(name: str, held: list[Existing], source: str, adopt: bool, plan: Plan) -> bool:
    if len(held) > 1:
        plan.problems.append(f"{name}: {len(held)} connections of the tenant have this name")
    elif held and held[0].managers - {source}:
        others = ", ".join(sorted(held[0].managers - {source}))
        plan.problems.append(f"{name}: managed by another source ({others}); not changed")
    elif held and source not in held[0].managers and not adopt:
        plan.problems.append(f"{name}: exists and is not managed by this file (--adopt takes it)")
    else:
        return False
    return True


def _desired(wanted: DeclaredConnection, ids: _Ids, marker: str, plan: Plan) -> Desired | None:
    unknown = [name for name in wanted.depends_on if name not in ids.of]
    if unknown:
        plan.problems.append(f"{wanted.name}: depends_on names no connection: {', '.join(unknown)}")
        return None
    depends_on = [uuid.UUID(ids.of[name]) for name in wanted.depends_on]
    notify = wanted.notify
    return Desired(
        declared=wanted,
        connection_id=ids.of[wanted.name],
        config=wanted.normalized_config(),
        auth=wanted.normalized_auth(),
        health=wanted.health_check.settings(depends_on),
        tags=(*wanted.tags, marker),
        notify=None if notify is None or notify.empty else notify.model_dump(mode="json"),
    )


def _update(desired: Desired, existing: Existing) -> Update | None:
    wanted = desired.declared
    if wanted.template != existing.template:
        changes = [FieldChange("template", existing.template, wanted.template)]
    else:
        changes = []
    changes += _diff("kind", existing.kind, wanted.kind.value)
    for name in ("config", "auth", "health_check"):
        changes += _diff(name, getattr(existing, name), getattr(desired, name))
    changes += _diff("tags", list(existing.tags), list(desired.tags))
    changes += _diff("description", existing.description, wanted.description)
    changes += _diff("notify", existing.notify, desired.notify)
    names = tuple(sorted(wanted.secrets))
    changes += _diff("secrets", list(existing.secret_fields), list(names))
    moved = moved_fields(
        (Kind(existing.kind), existing.config, existing.auth),
        (wanted.kind, desired.config, desired.auth),
    )
    if not changes:
        return None
    resend = bool(wanted.secrets) and (names != existing.secret_fields or bool(moved))
    return Update(desired, existing, tuple(changes), resend)


def _diff(path: str, before: Any, after: Any) -> list[FieldChange]:
    """The leaves that differ, by dotted path (objects compared key by key)."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            change
            for key in sorted(set(before) | set(after), key=str)
            for change in _diff(f"{path}.{key}", before.get(key), after.get(key))
        ]
    return [FieldChange(path, before, after)]
