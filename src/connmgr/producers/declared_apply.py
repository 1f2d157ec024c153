"""``apply``: send a plan's commands through the ``Producer``, entry by entry.

Secrets are resolved for every command that sends them before anything is sent
(a missing variable stops the apply with nothing changed), and sealed on the
client by the ``Producer``. Creates go first (a dependency exists before what
names it), then updates, then deletes. Each update and delete carries the version
it was planned on (``expected_version``): a connection someone changed since is
refused by the encryptor (``version_conflict``) and reported as a conflict, never
overwritten; a name someone took meanwhile likewise (``name_taken``). The other
entries still go (``docs/decisions.md``, "Connections as code").

``test_first`` (``apply --test``) runs a draft test of every created or updated
connection before anything is sent, and stops at the first that is not ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connmgr.schemas.connection_spec import ConnectionChanges, ConnectionSpec
from connmgr.schemas.outcomes import CommandOutcome, Reason
from connmgr.schemas.recipients import NotifySettings

from .client import Producer
from .declared_plan import Create, Desired, Plan, Update
from .declared_secrets import SecretSources

CONFLICTS = frozenset({Reason.VERSION_CONFLICT.value, Reason.NAME_TAKEN.value})


@dataclass
class Applied:
    lines: list[str] = field(default_factory=list)
    changed: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class Sendable:
    """A create or update with the spec it sends (secrets resolved when it sends them)."""

    entry: Create | Update
    spec: ConnectionSpec


def resolve(plan: Plan, sources: SecretSources, *, every: bool = False) -> list[Sendable]:
    """The spec each create and update sends; with ``every`` (a draft test needs them)
    the secrets of updates that would not send them too."""
    sendable: list[Sendable] = []
    entries: list[Create | Update] = [*plan.creates, *plan.updates]
    for entry in entries:
        sends = isinstance(entry, Create) or entry.resend_secrets or every
        secrets = sources.resolve(entry.desired.declared) if sends else {}
        sendable.append(Sendable(entry, spec_of(entry.desired, secrets)))
    return sendable


def spec_of(desired: Desired, secrets: dict[str, str]) -> ConnectionSpec:
    wanted = desired.declared
    return ConnectionSpec.model_validate(
        {
            "name": wanted.name,
            "kind": wanted.kind,
            "template": wanted.template,
            "config": desired.config,
            "auth": desired.auth,
            "health_check": desired.health,
            "tags": desired.tags,
            "description": wanted.description,
            "notify": wanted.notify,
            "secrets": secrets or None,
        }
    )


async def test_first(sendable: list[Sendable], producer: Producer) -> list[str]:
    """Draft-test each spec; the lines of the first failure, or none when all pass."""
    for item in sendable:
        outcome = await producer.test_draft(item.spec)
        result = outcome.result or {}
        if outcome.outcome != "accepted" or result.get("outcome") != "ok":
            why = result.get("outcome") or outcome.reason or "rejected"
            detail = result.get("detail") or outcome.message or ""
            return [f"test failed: {item.spec.name}: {why}" + (f" ({detail})" if detail else "")]
    return []


async def apply_plan(plan: Plan, sendable: list[Sendable], producer: Producer) -> Applied:
    applied = Applied()
    for item in sendable:
        if isinstance(item.entry, Create):
            outcome = await producer.create(
                item.spec, connection_id=item.entry.desired.connection_id
            )
            _record(applied, "created", item.spec.name, None, outcome)
            continue
        existing = item.entry.existing
        changes = ConnectionChanges.from_spec(item.spec)
        if item.entry.desired.notify is None and existing.notify is not None:
            changes = changes.model_copy(update={"notify": NotifySettings()})
        if not item.entry.resend_secrets:
            changes = changes.model_copy(update={"secrets": None})
        outcome = await producer.update(existing.id, changes, expected_version=existing.version)
        _record(applied, "updated", existing.name, existing.version, outcome)
    for delete in plan.deletes:
        existing = delete.existing
        outcome = await producer.delete(
            existing.id, expected_version=existing.version, reason=f"pruned by {plan.source}"
        )
        _record(applied, "deleted", existing.name, existing.version, outcome)
    return applied


def _record(
    applied: Applied, verb: str, name: str, planned_on: int | None, outcome: CommandOutcome
) -> None:
    if outcome.outcome == "accepted":
        applied.changed += 1
        applied.lines.append(
            f"{verb} {name}" + (f" (version {outcome.version})" if outcome.version else "")
        )
        return
    applied.failed += 1
    if outcome.reason not in CONFLICTS:
        applied.lines.append(f"error: {name}: {outcome.reason}: {outcome.message}")
    elif planned_on is None:
        applied.lines.append(
            f"conflict: {name} was taken meanwhile; not created ({outcome.reason})"
        )
    else:
        applied.lines.append(
            f"conflict: {name} was changed since the plan (version {planned_on}); "
            f"not overwritten ({outcome.reason})"
        )
