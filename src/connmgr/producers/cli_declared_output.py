"""How ``plan`` and ``apply`` print a plan: one line per change, field by field.

    + create orders-db (postgres)
    ~ update core-api (version 3)
        config.port: 5432 -> 5433
        secrets: sent again
    - delete old-db (version 2)
    ! core-db: managed by another source (platform/other); not changed
    plan: 1 to create, 1 to update, 1 to delete

Values are the file's and the API's, which hold no secret (the file refuses them,
the API shows secret field names only).
"""

from __future__ import annotations

import json
from typing import Any

from .declared_plan import Plan


def plan_lines(plan: Plan) -> list[str]:
    lines = [
        f"+ create {c.desired.declared.name} ({c.desired.declared.kind.value})"
        for c in plan.creates
    ]
    for update in plan.updates:
        lines.append(f"~ update {update.existing.name} (version {update.existing.version})")
        lines += [
            f"    {change.field}: {_value(change.before)} -> {_value(change.after)}"
            for change in update.changes
        ]
        if update.resend_secrets:
            lines.append("    secrets: sent again")
    lines += [f"- delete {d.existing.name} (version {d.existing.version})" for d in plan.deletes]
    lines += [f"! {problem}" for problem in plan.problems]
    if plan.unpruned:
        names = ", ".join(plan.unpruned)
        lines.append(
            f"  kept (managed by {plan.source}, not in the file; --prune deletes): {names}"
        )
    summary = (
        f"{len(plan.creates)} to create, {len(plan.updates)} to update, "
        f"{len(plan.deletes)} to delete"
    )
    lines.append(f"plan: {summary}" if plan.changes else "plan: no changes")
    return lines


def _value(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
