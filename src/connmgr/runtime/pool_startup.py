"""Each pool's start-up: the pool built over its ``Resources`` and started.

``start_pool(name, settings, resources)`` runs the named pool's start-up checks and
returns its loop, for ``pools.run_until_stopped`` or the supervisor to run; the
connection, engine and key ring it is built on come from the caller (``pools`` builds
them for a process; tests and the dev stack pass their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncEngine

from connmgr.runtime.keyfiles import load_callout_issuer
from connmgr.runtime.pool_names import NATS_AUTH, WORKERS
from connmgr.runtime.pools import PoolLoop
from connmgr.schemas.settings import Settings
from connmgr.storage.samples import Retention
from connmgr.workers.checks.registry import build_checks
from connmgr.workers.checks.runner import CheckRunner
from connmgr.workers.egress import Egress, EgressPolicy
from connmgr.workers.encryptor.handlers import EncryptorPorts
from connmgr.workers.encryptor.service import EncryptorPool
from connmgr.workers.keyring import Keyring, KeyringError
from connmgr.workers.nats_auth.service import NatsAuthService
from connmgr.workers.notifier.service import NotifierPool
from connmgr.workers.prober.service import ProberPool
from connmgr.workers.relay.service import Relay
from connmgr.workers.tester.service import TesterPool


@dataclass(frozen=True, slots=True)
class Resources:
    nc: NatsClient
    engine: AsyncEngine
    keyring: Keyring | None


async def start_pool(name: str, settings: Settings, resources: Resources) -> PoolLoop:
    """Run the pool's start-up checks; returns its loop. Raises if it must not start."""
    if name == "encryptor":
        ports = EncryptorPorts(_keyring(resources, "encryptor"), settings.allow_plaintext_secrets)
        encryptor = EncryptorPool(
            resources.nc,
            resources.engine,
            ports,
            settings.batch_size,
            in_flight=settings.batches_in_flight,
        )
        await encryptor.start()
        return encryptor.run
    if name == "tester":
        return await _start_tester(settings, resources)
    if name == "prober":
        return await _start_prober(settings, resources)
    if name == "notifier":
        notifier = NotifierPool(
            resources.nc,
            resources.engine,
            _keyring(resources, "notifier"),
            Egress(EgressPolicy.from_settings(settings)),
        )
        await notifier.start()
        return notifier.run
    if name == "relay":
        relay = Relay(resources.nc.jetstream(), resources.engine, settings.relay_batch_size)
        await relay.start()
        return relay.run
    if name == NATS_AUTH:
        callout = NatsAuthService(
            resources.nc,
            resources.engine,
            load_callout_issuer(settings),
            ttl_s=settings.nats_credential_ttl_s,
            slots=settings.nats_event_consumer_slots,
        )
        await callout.start()
        return callout.run
    raise ValueError(f"unknown pool {name!r}; pools: {', '.join(WORKERS)}")


def _runner(settings: Settings) -> CheckRunner:
    egress = Egress(EgressPolicy.from_settings(settings))
    return CheckRunner(
        build_checks(egress), settings.tester_concurrency, settings.tester_per_target
    )


def _keyring(resources: Resources, pool: str) -> Keyring:
    if resources.keyring is None:
        raise KeyringError(f"the {pool} needs a key ring")
    return resources.keyring


async def _start_prober(settings: Settings, resources: Resources) -> PoolLoop:
    prober = ProberPool(
        resources.nc,
        resources.engine,
        _keyring(resources, "prober"),
        _runner(settings),
        max_in_flight=settings.tester_concurrency * 4,
        retention=Retention(
            raw=timedelta(days=settings.samples_retention_days),
            minute=timedelta(days=settings.minute_rollups_retention_days),
            hour=timedelta(days=settings.hour_rollups_retention_days),
        ),
    )
    await prober.start()
    return prober.run


async def _start_tester(settings: Settings, resources: Resources) -> PoolLoop:
    runner = _runner(settings)
    tester = TesterPool(
        resources.nc,
        resources.engine,
        _keyring(resources, "tester"),
        runner,
        allow_plaintext=settings.allow_plaintext_secrets,
        max_in_flight=settings.tester_concurrency * 2,
    )
    await tester.start()
    return tester.run
