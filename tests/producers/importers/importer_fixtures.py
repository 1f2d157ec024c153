"""The fixture files of the importer tests, and the secrets written in them."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from connmgr.producers.importers.entries import Conversion, ImportedConnection

FIXTURES: Final = Path(__file__).parent / "fixtures"

AIRFLOW_SECRETS: Final = (
    "Pg-s3cret-7f3a9c1e5b2d",
    "My-s3cret-2c8e4a6f9d0b",
    "Mg-s3cret-9b1d3f5a7c2e",
    "Rd-s3cret-4e6a8c0b2d9f",
    "ghp_Ht7s3cretT0kenQ9x2LmZ4",
    "Aws-s3cret-1a3c5e7b9d2f4h6j",
    "Sm-s3cret-6c8e0a2b4d1f",
    "Im-s3cret-8e0c2a4b6d3f",
    "Ft-s3cret-0a2c4e6b8d5f",
    "Us-s3cret-3b5d7f9a1c6e",
)
KUMA_SECRETS: Final = (
    "Ku-basic-5d7f9b1c3e8a",
    "ku-tok-8a0c2e4b6d9f1h3j",
    "Ku-oauth-2b4d6f8a0c5e",
    "Ku-pg-7c9e1a3b5d0f",
    "Ku-my-9e1c3a5b7d2f",
    "Ku-mg-1e3c5a7b9d4f",
    "Ku-rd-3a5c7e9b1d6f",
)
GATUS_SECRETS: Final = ("Ga-key-6f8b0d2a4c1e3g5i", "Ga-push-1h3j5l7n9p2r4t6v")


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def by_name(conversion: Conversion) -> dict[str, ImportedConnection]:
    return {connection.name: connection for connection in conversion.connections}
