"""``moved_fields`` read as a routing table, straight on config and auth documents: which
change moves a stored secret, field by field, with the order and names the refusal
reports (``schemas.secret_destinations``; the same rules end to end in
``test_update_rules.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from connmgr.schemas.kinds import Kind
from connmgr.schemas.secret_destinations import TLS_FIELDS, _ranks, moved_fields

PG: dict[str, Any] = {
    "host": "db.internal",
    "port": 5432,
    "database": "orders",
    "ssl": "require",
    "ca_pem": None,
    "server_name": None,
}
BASIC: dict[str, Any] = {"method": "basic", "username": "app"}


def moved(
    config: dict[str, Any],
    new_config: dict[str, Any],
    *,
    kind: Kind = Kind.POSTGRES,
    auth: dict[str, Any] = BASIC,
    new_auth: dict[str, Any] | None = None,
) -> list[str]:
    return moved_fields((kind, config, auth), (kind, new_config, new_auth or auth))


def test_nothing_changed_moves_nothing() -> None:
    assert moved(PG, dict(PG)) == []


def test_a_change_of_kind_is_reported_alone() -> None:
    before = (Kind.POSTGRES, PG, BASIC)
    after = (Kind.MYSQL, {**PG, "host": "elsewhere"}, {"method": "none"})
    assert moved_fields(before, after) == ["kind"]


def test_harmless_fields_move_nothing() -> None:
    assert moved(PG, {**PG, "database": "billing", "schema": "other"}) == []


def test_destinations_and_trust_anchors_in_table_order() -> None:
    changed = {**PG, "server_name": "x.example", "port": 6543, "ca_pem": "PEM", "host": "h2"}
    assert moved(PG, changed) == [
        "config.host",
        "config.port",
        "config.ca_pem",
        "config.server_name",
    ]


@pytest.mark.parametrize(
    ("old", "new", "is_moved"),
    [
        ("require", "require", False),
        ("require", "verify-full", False),  # strictly stronger
        ("disable", "require", False),
        ("verify-ca", "verify-full", False),
        ("verify-full", "verify-ca", True),  # weaker
        ("require", "disable", True),
        (None, "disable", False),  # unranked counts as weakest: any rank is stronger
        ("disable", None, True),  # to unranked: weaker
        ("bogus", "disable", False),
        ("bogus", "other-bogus", True),  # unranked to unranked: not a strengthening
        ("bogus", "bogus", False),
        (None, None, False),
    ],
)
def test_a_ranked_field_moves_unless_strictly_strengthened(
    old: object, new: object, is_moved: bool
) -> None:
    result = moved({**PG, "ssl": old}, {**PG, "ssl": new})
    assert result == (["config.ssl"] if is_moved else [])


@pytest.mark.parametrize(
    ("old", "new", "is_moved"),
    [
        ("none", "starttls", False),
        ("none", "implicit", False),
        ("starttls", "implicit", True),  # sideways: same rank, another channel
        ("implicit", "starttls", True),
        ("starttls", "none", True),
    ],
)
def test_mail_security_ranks(old: str, new: str, is_moved: bool) -> None:
    config = {"host": "mail.example", "port": 587, "ca_pem": None, "server_name": None}
    result = moved({**config, "security": old}, {**config, "security": new}, kind=Kind.SMTP)
    assert result == (["config.security"] if is_moved else [])


@pytest.mark.parametrize("kind", [Kind.MONGODB, Kind.REDIS, Kind.TCP])
def test_tls_on_off_ranks(kind: Kind) -> None:
    config = {"host": "h", "port": 1, "replica_set": None, "ca_pem": None, "server_name": None}
    assert moved({**config, "tls": False}, {**config, "tls": True}, kind=kind) == []
    assert moved({**config, "tls": True}, {**config, "tls": False}, kind=kind) == ["config.tls"]


def test_the_rank_tables_order_the_documented_values_above_unranked() -> None:
    """Each table ranks its values in the documented order, every one above an unranked
    value (-1 in ``_weakened_or_changed``); only the order is compared, never the numbers."""
    sql = ["disable", "require", "verify-ca", "verify-full"]
    for kind in (Kind.POSTGRES, Kind.MYSQL):
        ranks = TLS_FIELDS[kind]["ssl"]
        assert sorted(ranks, key=lambda value: ranks[value]) == sql
        assert len(set(ranks.values())) == len(sql)
        assert min(ranks.values()) > -1
    for kind in (Kind.MONGODB, Kind.REDIS, Kind.TCP):
        ranks = TLS_FIELDS[kind]["tls"]
        assert set(ranks) == {False, True}
        assert -1 < ranks[False] < ranks[True]
    for kind in (Kind.SMTP, Kind.IMAP):
        ranks = TLS_FIELDS[kind]["security"]
        assert -1 < ranks["none"] < ranks["starttls"] == ranks["implicit"]
    assert {kind for kind in Kind if not TLS_FIELDS[kind]} == {Kind.HTTP, Kind.WEBHOOK, Kind.S3}


def test_ranks_number_the_values_in_their_order_from_zero() -> None:
    """The helper the tables are built with (at import, so tested here directly)."""
    assert _ranks(("low", "mid", "high")) == {"low": 0, "mid": 1, "high": 2}
    assert _ranks(()) == {}


def test_a_change_of_auth_method_ends_the_list() -> None:
    """After the method, the fields of either method are not compared."""
    result = moved(
        PG,
        {**PG, "host": "h2"},
        new_auth={"method": "mtls"},
    )
    assert result == ["config.host", "auth.method"]
    assert moved(PG, PG, new_auth={"method": "none"}) == ["auth.method"]


def test_an_auth_field_of_the_method_moves_the_secret() -> None:
    assert moved(PG, PG, new_auth={"method": "basic", "username": "root"}) == ["auth.username"]


def test_auth_fields_in_table_order_with_config_first() -> None:
    http = {"base_url": "https://a.example", "ca_pem": None, "server_name": None}
    jwt = {
        "method": "jwt",
        "algorithm": "HS256",
        "issuer": "i",
        "subject": "s",
        "audience": "a",
        "claims": {},
    }
    changed = {**jwt, "claims": {"x": 1}, "algorithm": "ES256", "subject": "t"}
    result = moved_fields(
        (Kind.HTTP, http, jwt), (Kind.HTTP, {**http, "base_url": "https://b.example"}, changed)
    )
    assert result == ["config.base_url", "auth.algorithm", "auth.subject", "auth.claims"]
