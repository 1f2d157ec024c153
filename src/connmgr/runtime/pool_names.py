"""The names ``connmgr worker`` accepts, apart from the pools' code (light to import)."""

from __future__ import annotations

POOLS = ("encryptor", "relay", "tester", "prober", "notifier")
NATS_AUTH = "nats-auth"
WORKERS = (*POOLS, NATS_AUTH)
"""What ``connmgr worker`` runs: the pools, and the auth callout (never in the dev stack,
whose broker on loopback needs no authentication)."""
