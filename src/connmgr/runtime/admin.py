"""Operator commands: migrate, projection rebuild, audit verify, key rotation, API tokens."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Final

from connmgr.runtime.database_wait import wait_for_database
from connmgr.runtime.keyfiles import load_keyring, read_private_file, write_private_file
from connmgr.runtime.pools import connect_operator
from connmgr.schemas.settings import Settings
from connmgr.storage.audit import verify_chain
from connmgr.storage.database import create_engine
from connmgr.storage.projection_store import rebuild
from connmgr.storage.schema_upgrade import upgrade_schema
from connmgr.storage.tokens import (
    OPERATOR_TENANT,
    issue_operator_token,
    issue_token,
    list_tokens,
    revoke_tokens_named,
)
from connmgr.workers.durables import ensure_consumers
from connmgr.workers.key_rotation import ensure_unused, rewrap_all
from connmgr.workers.keyring import Keyring, KeyringError
from connmgr.workers.stream_upgrade import restore_held
from connmgr.workers.streams import ensure_streams, keys_bucket

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1


async def run_migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Wait up to ``--wait-s`` for the database (``database_wait``), then migrate."""
    engine = create_engine(settings.database_url)
    try:
        await wait_for_database(engine, args.wait_s)
        refolded = await upgrade_schema(engine)
    finally:
        await engine.dispose()
    print("schema: up to date" + ("; projection refolded from the log" if refolded else ""))
    return EXIT_OK


async def run_rebuild(settings: Settings, _args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        rows = await rebuild(engine)
    finally:
        await engine.dispose()
    print(f"projection rebuilt: {rows} connections")
    return EXIT_OK


async def run_audit(settings: Settings, _args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        report = await verify_chain(engine)
    finally:
        await engine.dispose()
    if report.ok:
        print(f"audit: ok, {report.events_checked} events, chain intact")
        return EXIT_OK
    print(
        f"audit: FAILED at position {report.first_bad_position}: {report.problem} "
        f"({report.events_checked} events verified before it)"
    )
    return EXIT_FAILED


def _keyring_path(settings: Settings) -> Keyring:
    if settings.keyring_file is None:
        raise KeyringError("key rotation rewrites the key ring file: set CONNMGR_KEYRING_FILE")
    return Keyring.from_json(read_private_file(settings.keyring_file))


async def run_keys_rotate(settings: Settings, _args: argparse.Namespace) -> int:
    ring = _keyring_path(settings).with_new_primary()
    assert settings.keyring_file is not None
    write_private_file(settings.keyring_file, ring.to_json())
    engine = create_engine(settings.database_url)
    try:
        report = await rewrap_all(engine, ring)
    finally:
        await engine.dispose()
    print(f"new primary key: {ring.primary}")
    print(f"data keys re-wrapped: {report.rewrapped} (already current: {report.already_current})")
    print("restart the pools so they load the new ring; then retire old keys with keys retire")
    return EXIT_OK


async def run_keys_retire(settings: Settings, args: argparse.Namespace) -> int:
    ring = _keyring_path(settings)
    engine = create_engine(settings.database_url)
    try:
        await ensure_unused(engine, args.key_id)
    finally:
        await engine.dispose()
    assert settings.keyring_file is not None
    write_private_file(settings.keyring_file, ring.without_key(args.key_id).to_json())
    print(f"retired key: {args.key_id}")
    return EXIT_OK


async def run_keys_show(settings: Settings, _args: argparse.Namespace) -> int:
    ring = load_keyring(settings)
    print(
        json.dumps(
            {
                "primary": ring.primary,
                "keys": sorted(ring.keys),
                "seal": ring.seal_public_info().model_dump(),
            },
            indent=2,
        )
    )
    return EXIT_OK


async def run_token_issue(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        if args.operator:
            if args.scope:
                raise SystemExit("connmgr: an operator token has exactly metrics:read; no --scope")
            token = await issue_operator_token(engine, args.name)
        else:
            token = await issue_token(engine, args.name, args.tenant, args.scope or ["read"])
    finally:
        await engine.dispose()
    sys.stdout.write(token + "\n")
    return EXIT_OK


async def run_token_ls(settings: Settings, args: argparse.Namespace) -> int:
    """One line per token: name, owner, scopes, created, state. Never a token or its hash."""
    engine = create_engine(settings.database_url)
    try:
        tenant = OPERATOR_TENANT if args.operator else args.tenant
        tokens = await list_tokens(engine, tenant=tenant, include_revoked=args.all)
    finally:
        await engine.dispose()
    if not tokens:
        print("no tokens")
        return EXIT_OK
    rows = [("NAME", "OWNER", "SCOPES", "CREATED", "STATE")]
    rows += [
        (
            t.name,
            "(operator)" if t.tenant == OPERATOR_TENANT else t.tenant,
            ",".join(t.scopes),
            t.created_at.strftime("%Y-%m-%dT%H:%MZ"),
            "revoked" if t.revoked else "live",
        )
        for t in tokens
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]))
    return EXIT_OK


async def run_token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        tenant = OPERATOR_TENANT if args.operator else args.tenant
        count = await revoke_tokens_named(engine, tenant, args.name)
    finally:
        await engine.dispose()
    print(f"tokens revoked: {count}")
    return EXIT_OK if count else EXIT_FAILED


async def run_streams_ensure(settings: Settings, args: argparse.Namespace) -> int:
    """Create or update the streams, e.g. with 3 replicas on a cluster, every pool's
    durable consumer and the keys bucket: pools then start with read-only rights."""
    nc = await connect_operator(settings)
    try:
        js = nc.jetstream()
        await ensure_streams(js, replicas=args.replicas)
        await restore_held(js)
        await ensure_consumers(js)
        await keys_bucket(js)
    finally:
        await nc.close()
    print(f"streams: ready ({args.replicas or 'existing'} replicas)")
    return EXIT_OK
