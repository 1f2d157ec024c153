"""``connmgr projection duplicate-names``: the names two live connections of one tenant share.

Names are unique per tenant since issue 16, enforced by the encryptor; a database
written before may hold duplicates, which this reports (one line each: tenant,
name, the connection ids) for an operator to rename (``connmgr update ID --name``).
Exit 0 when every name is unique, 1 when some are not (``docs/decisions.md``,
"Unique names").
"""

from __future__ import annotations

import argparse
from typing import Final

from connmgr.schemas.settings import Settings
from connmgr.storage.connection_names import duplicate_names
from connmgr.storage.database import create_engine

EXIT_UNIQUE: Final = 0
EXIT_DUPLICATES: Final = 1


async def run_duplicate_names(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            found = await duplicate_names(connection, args.tenant)
    finally:
        await engine.dispose()
    for duplicate in found:
        print(f"{duplicate.tenant}\t{duplicate.name}\t{','.join(duplicate.connection_ids)}")
    if not found:
        print("names: unique in every tenant" if args.tenant is None else "names: unique")
        return EXIT_UNIQUE
    return EXIT_DUPLICATES
