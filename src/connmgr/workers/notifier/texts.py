"""The human text of a notification, shared by every format (and e-mail).

Built from the alert's fixed fields only (status, reason, outcome and detail
are the prober's fixed codes and sentences; the name is the connection's):
never a secret, a server banner or a driver message.
"""

from __future__ import annotations

from datetime import UTC

from connmgr.workers.notifier.notices import AlertNotice


def headline(notice: AlertNotice) -> str:
    """``[DOWN] orders-db`` or ``[RESOLVED] orders-db``."""
    state = (notice.status or "alert").upper() if notice.raised else "RESOLVED"
    return f"[{state}] {notice.display_name}"


def summary(notice: AlertNotice) -> str:
    """One sentence: what happened to which connection."""
    kind = f" ({notice.connection_kind})" if notice.connection_kind else ""
    if not notice.raised:
        after = f" after {duration(notice.open_s)}" if notice.open_s is not None else ""
        return f"{notice.display_name}{kind} recovered{after}"
    sentence = f"{notice.display_name}{kind} is {notice.status or 'alerting'}"
    if notice.reason:
        sentence += f": {notice.reason}"
    if notice.detail:
        sentence += f" ({notice.detail})"
    return sentence


def facts(notice: AlertNotice) -> list[tuple[str, str]]:
    """Name/value pairs for cards and embeds; empty values left out."""
    pairs = [
        ("Connection", notice.display_name),
        ("Connection id", notice.connection_id),
        ("Tenant", notice.tenant),
        ("Status", notice.status or ("resolved" if not notice.raised else "")),
        ("Severity", notice.severity.label if notice.raised else ""),
        ("Outcome", notice.outcome or ""),
        ("Alert id", notice.alert_id),
        ("At", notice.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    return [(name, value) for name, value in pairs if value]


def duration(seconds: float | None) -> str:
    """``45s``, ``4m 12s``, ``2h 3m``, ``3d 4h``."""
    total = max(int(seconds or 0), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
