"""S3Check against moto's S3 server mode (``ThreadedMotoServer``, 127.0.0.1, IAM checks on)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from svc_contract import ServiceCheckContract
from svc_net import (
    assert_no_secret,
    loopback_egress,
    nothing_connected,
    target,
    watched_listener,
)
from svc_pki import Pki
from svc_s3 import CLOSED_BUCKET, MISSING_BUCKET, OPEN_BUCKET, MotoS3, moto_s3, tls_front

from connmgr.schemas.kinds import Kind
from connmgr.workers.checks.base import Check, CheckTarget, Outcome
from connmgr.workers.checks.s3 import S3Check
from connmgr.workers.egress import Egress
from support.leaks import LeakChannels

# moto reads a bucket from any host name but localhost or an address: use localhost for TLS.
LOCALHOST = {"localhost": "127.0.0.1"}


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    with moto_s3() as server:
        yield server


def s3(
    endpoint: str,
    key_id: str,
    secret: str | None,
    *,
    bucket: str = OPEN_BUCKET,
    timeout_s: float = 5.0,
    **config: Any,
) -> CheckTarget:
    settings = {"bucket": bucket, "endpoint_url": endpoint, "addressing_style": "path", **config}
    return target(
        Kind.S3,
        settings,
        username=key_id,
        secrets={"password": secret} if secret is not None else {},
        timeout_s=timeout_s,
    )


async def test_head_and_list_with_valid_keys_is_ok(
    moto: MotoS3, leak_channels: LeakChannels
) -> None:
    result = await S3Check(loopback_egress()).run(
        s3(moto.url, moto.key_id, moto.secret, list_objects=True)
    )
    assert result.outcome is Outcome.OK, result
    assert {"resolve", "auth", "query"} <= result.phases.keys()
    assert result.server is not None
    assert result.server.version is not None
    assert "/" not in result.server.version
    assert_no_secret(result, leak_channels, moto.secret)


async def test_a_wrong_secret_is_auth_failed_without_leaking_it(
    moto: MotoS3, leak_channels: LeakChannels
) -> None:
    wrong = "wRoNg/SeCrEt+KeY/0123456789abcdefghijkl"
    result = await S3Check(loopback_egress()).run(s3(moto.url, moto.key_id, wrong))
    assert result.outcome is Outcome.AUTH_FAILED
    assert_no_secret(result, leak_channels, wrong)


async def test_an_unknown_key_id_is_auth_failed(moto: MotoS3) -> None:
    result = await S3Check(loopback_egress()).run(s3(moto.url, "AKIAUNKNOWN000000000", "x" * 40))
    assert result.outcome is Outcome.AUTH_FAILED


async def test_the_hosts_aws_credentials_and_settings_are_never_used(
    moto: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.secret)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://169.254.169.254")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/ca.pem")
    check = S3Check(loopback_egress())
    wrong = await check.run(s3(moto.url, "AKIAUNKNOWN000000000", "x" * 40))
    missing = await check.run(s3(moto.url, moto.key_id, None))
    right = await check.run(s3(moto.url, moto.key_id, moto.secret))
    assert wrong.outcome is Outcome.AUTH_FAILED
    assert missing.outcome is Outcome.CONFIG_ERROR
    assert missing.phases == {}
    assert right.outcome is Outcome.OK, right


async def test_a_bucket_the_keys_may_not_use_is_permission_denied(moto: MotoS3) -> None:
    result = await S3Check(loopback_egress()).run(
        s3(moto.url, moto.key_id, moto.secret, bucket=CLOSED_BUCKET)
    )
    assert result.outcome is Outcome.PERMISSION_DENIED


async def test_a_missing_bucket_is_a_config_error(moto: MotoS3) -> None:
    result = await S3Check(loopback_egress()).run(
        s3(moto.url, moto.key_id, moto.secret, bucket=MISSING_BUCKET)
    )
    assert result.outcome is Outcome.CONFIG_ERROR
    assert "does not exist" in result.detail


async def test_tls_with_the_private_ca_is_ok(moto: MotoS3, pki: Pki) -> None:
    async with tls_front(pki.server_context(), moto.port) as port:
        result = await S3Check(loopback_egress(LOCALHOST)).run(
            s3(f"https://localhost:{port}", moto.key_id, moto.secret, ca_pem=pki.ca_pem)
        )
    assert result.outcome is Outcome.OK, result


async def test_tls_without_the_ca_is_a_tls_error(moto: MotoS3, pki: Pki) -> None:
    async with tls_front(pki.server_context(), moto.port) as port:
        result = await S3Check(loopback_egress(LOCALHOST)).run(
            s3(f"https://localhost:{port}", moto.key_id, moto.secret)
        )
    assert result.outcome is Outcome.TLS_ERROR


async def test_the_virtual_host_the_sdk_derives_is_checked_too() -> None:
    names = {f"{OPEN_BUCKET}.s3.connmgr.test": "169.254.169.254"}
    with watched_listener() as (port, listener):
        result = await S3Check(loopback_egress(names)).run(
            s3(f"http://s3.connmgr.test:{port}", "AKIA0", "secret", addressing_style="virtual")
        )
        assert nothing_connected(listener)
    assert result.outcome is Outcome.REFUSED_BY_POLICY
    assert "metadata" in result.detail


class TestS3CheckContract(ServiceCheckContract):
    def check(self, egress: Egress) -> Check:
        return S3Check(egress)

    def target(self, port: int, timeout_s: float = 5.0) -> CheckTarget:
        return s3(f"http://127.0.0.1:{port}", "AKIA0", "secret", timeout_s=timeout_s)
