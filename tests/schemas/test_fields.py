"""Bounded field types: what a host may be."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from connmgr.schemas.fields import Hostname, HttpUrl

HOST = TypeAdapter(Hostname)
URL = TypeAdapter(HttpUrl)


@given(st.ip_addresses())
def test_every_ip_address_is_a_host_as_written(address: ipaddress._BaseAddress) -> None:
    written = str(address)

    assert HOST.validate_python(written) == written
    if address.version == 6:
        assert HOST.validate_python(f"[{written}]") == written
        assert HOST.validate_python(address.exploded) == address.exploded


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("db.internal", "db.internal"),
        ("Orders-DB.Example.COM.", "orders-db.example.com"),
        ("localhost", "localhost"),
        ("10", "10"),  # a one-label name; the egress policy judges what it resolves to
    ],
)
def test_names_and_addresses_are_accepted(value: str, host: str) -> None:
    assert HOST.validate_python(value) == host


@pytest.mark.parametrize(
    "value",
    ["", ".", "-db.internal", "db-.internal", "db..internal", "db internal", "a:b", "[db]",
     "db/internal", "x" * 64 + ".internal", "db_internal", "10.0.0.1:5432", "[::1]:5432"],
)  # fmt: skip
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="hostname or an IP address"):
        HOST.validate_python(value)


@pytest.mark.parametrize("address", ["fe80::1", "fd00:ec2::254", "fe80::1:2:3:4", "ff02::1"])
def test_an_ipv6_zone_id_is_refused_in_every_spelling(address: str) -> None:
    assert HOST.validate_python(address) == address  # the positive control: no zone id
    assert URL.validate_python(f"http://[{address}]/") == f"http://[{address}]/"
    for scoped in (f"{address}%eth0", f"[{address}%eth0]", f"{address}%25eth0", f"{address}%1"):
        with pytest.raises(ValidationError, match="must not contain %"):
            HOST.validate_python(scoped)
    for url in (f"http://[{address}%25eth0]/", f"https://[{address}%eth0]:8443/x"):
        with pytest.raises(ValidationError, match="must not contain %"):
            URL.validate_python(url)
