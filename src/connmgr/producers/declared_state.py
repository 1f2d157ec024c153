"""What the tenant has now, as ``plan``, ``apply`` and ``export`` compare and write it.

Read through the read API with the caller's token (``api_client``): the token names
the tenant, so only its own connections are ever read. Every page is read; the
views carry secret field names only, never values (``storage/reads/views``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from connmgr.schemas.declared.source import MANAGED_BY_PREFIX

from . import api_client

PAGE_SIZE: Final = 200
MAX_PAGES: Final = 1000


@dataclass(frozen=True, slots=True)
class Existing:
    """One live connection of the tenant, as the API shows it."""

    id: str
    tenant: str
    name: str
    kind: str
    template: str | None
    config: dict[str, Any]
    auth: dict[str, Any]
    secret_fields: tuple[str, ...]
    health_check: dict[str, Any]
    tags: tuple[str, ...]
    description: str
    notify: dict[str, Any] | None
    version: int

    @classmethod
    def from_view(cls, view: Mapping[str, Any]) -> Existing:
        return cls(
            id=str(view["id"]),
            tenant=str(view["tenant"]),
            name=str(view["name"]),
            kind=str(view["kind"]),
            template=view.get("template"),
            config=dict(view.get("config") or {}),
            auth=dict(view.get("auth") or {}),
            secret_fields=tuple(sorted(view.get("secret_fields") or ())),
            health_check=dict(view.get("health_check") or {}),
            tags=tuple(view.get("tags") or ()),
            description=str(view.get("description") or ""),
            notify=view.get("notify"),
            version=int(view["version"]),
        )

    @property
    def managers(self) -> frozenset[str]:
        """The sources whose managed-by tag the connection carries."""
        return frozenset(
            tag.removeprefix(MANAGED_BY_PREFIX)
            for tag in self.tags
            if tag.startswith(MANAGED_BY_PREFIX)
        )

    @property
    def own_tags(self) -> tuple[str, ...]:
        """Its tags but the managed-by markers: the ones a file lists."""
        return tuple(tag for tag in self.tags if not tag.startswith(MANAGED_BY_PREFIX))


async def read_existing(api_url: str, token: str, *, timeout_s: float) -> list[Existing]:
    """Every live connection of the token's tenant, in the API's order (name, id)."""
    found: list[Existing] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await api_client.list_connections(
            api_url, token, limit=PAGE_SIZE, cursor=cursor, timeout_s=timeout_s
        )
        found.extend(Existing.from_view(view) for view in page.get("items", []))
        cursor = page.get("next_cursor")
        if not cursor:
            return found
    raise api_client.ApiUnreachable(f"more than {PAGE_SIZE * MAX_PAGES} connections")
