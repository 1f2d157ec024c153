"""Fixtures of the HTTP check tests: a PKI, verifying peers on 127.0.0.1, an egress policy.

- ``pki`` (session): CA, server and client certificates (see ``http_pki``).
- ``jwt_keys`` (session): the RSA and EC key pairs the JWT peer verifies with.
- ``serve`` (function, from ``tests/checks/conftest.py``): ``await serve(app,
  ssl_context=None)`` -> the base URL of a started aiohttp server on 127.0.0.1.
- ``egress``: the policy of these tests, loopback explicitly allowed.
- ``provider`` / ``provider_url``: the auth-verifying peer over HTTPS.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from http_pki import Pki, make_pki
from http_providers import JwtKeys, Provider
from http_targets import Serve
from yarl import URL

from connmgr.workers.egress import Egress, EgressPolicy


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def jwt_keys() -> JwtKeys:
    return JwtKeys(
        rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec_key=ec.generate_private_key(ec.SECP256R1()),
    )


@pytest.fixture
def egress() -> Egress:
    return Egress(EgressPolicy(allow_loopback=True))


@pytest.fixture
def provider(jwt_keys: JwtKeys) -> Provider:
    return Provider(jwt_keys)


@pytest.fixture
async def provider_url(serve: Serve, provider: Provider, pki: Pki) -> URL:
    return await serve(provider.app(), pki.server_context())
