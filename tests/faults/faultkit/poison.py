"""A poison command: one that fails on every delivery, made in the test's own database.

Since NUL characters are refused up front (commit 5a06c90) the public surface has
no command that always fails to be stored, so the test makes one the way a
storage bug would: a trigger on the test database's ``connections`` table raises
for one connection name. The encryptor's handling of that one command fails on
every delivery while every other command of its batch commits.
"""

from __future__ import annotations

import random
import uuid
from typing import Final

from sqlalchemy import text

from faultkit.cluster import Cluster
from faultkit.load import PlannedCommand, planned
from support.commands import postgres_payload

POISON_NAME: Final = "poison-connection"

_FUNCTION = f"""
CREATE OR REPLACE FUNCTION faults_refuse_poison() RETURNS trigger AS $$
BEGIN
    IF NEW.name = '{POISON_NAME}' THEN
        RAISE EXCEPTION 'fault test: this connection can never be stored';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql
"""
_TRIGGER = """
CREATE TRIGGER faults_refuse_poison BEFORE INSERT OR UPDATE ON connections
FOR EACH ROW EXECUTE FUNCTION faults_refuse_poison()
"""


async def install_poison_trigger(cluster: Cluster) -> None:
    async with cluster.engine.begin() as connection:
        await connection.execute(text(_FUNCTION))
        await connection.execute(text(_TRIGGER))


def poison_command() -> PlannedCommand:
    """A create the trigger refuses on every delivery."""
    payload = postgres_payload(name=POISON_NAME, secrets={"plaintext": {"password": "pw"}})
    return planned("create", str(uuid.uuid4()), payload, random.Random())


def nul_command() -> PlannedCommand:
    """A create with a NUL character, which PostgreSQL cannot store: refused up front."""
    payload = postgres_payload(
        name="nul", description="nul \x00 byte", secrets={"plaintext": {"password": "pw"}}
    )
    return planned("create", str(uuid.uuid4()), payload, random.Random())
