"""The rules ``Authorizer`` (``connmgr.workers.checks.http_auth``) applies before any
request is sent: which secret a method needs, what a header may hold, what a 401 forgets.

A refusal is a ``CheckFailed(CONFIG_ERROR)`` whose detail names the field or the
header, never the value (module doc); no secret reaches any channel (``leak_channels``).
"""

from __future__ import annotations

import pytest
from http_targets import http_target
from yarl import URL

from connmgr.schemas.connection_auth import Auth, BasicAuth, BearerAuth, MtlsAuth, NoAuth
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.failures import CheckFailed
from connmgr.workers.checks.http_auth import Authorizer
from connmgr.workers.checks.http_oauth2 import TokenCache
from connmgr.workers.checks.http_transport import Outgoing
from support.leaks import LeakChannels

BASE = URL("https://api.test")


def authorizer(auth: Auth, secrets: dict[str, str], tokens: TokenCache | None = None) -> Authorizer:
    target = http_target(BASE, "/", auth=auth, secrets=secrets)
    return Authorizer(target, tokens=tokens or TokenCache(), clock=lambda: 1000.0)


def test_mtls_gives_the_stored_certificate_and_key_and_other_methods_none() -> None:
    secrets = {"client_cert_pem": "CERT", "client_key_pem": "KEY"}

    assert authorizer(MtlsAuth(), secrets).client_certificate() == ("CERT", "KEY")
    assert authorizer(NoAuth(), secrets).client_certificate() is None


@pytest.mark.parametrize("missing", ["client_cert_pem", "client_key_pem"])
def test_mtls_without_its_certificate_or_key_is_a_config_error_naming_the_field(
    missing: str,
) -> None:
    secrets = {"client_cert_pem": "CERT", "client_key_pem": "KEY"}
    del secrets[missing]

    with pytest.raises(CheckFailed) as failure:
        authorizer(MtlsAuth(), secrets).client_certificate()

    assert (failure.value.outcome, failure.value.detail) == (
        Outcome.CONFIG_ERROR,
        f"the secret field {missing!r} is missing",
    )


async def test_a_basic_username_with_a_colon_is_a_config_error(
    leak_channels: LeakChannels,
) -> None:
    """RFC 7617 section 2: the user-id cannot contain a colon."""
    password = "pw-3c8e1f5a9d"
    request = Outgoing("GET", BASE)

    with pytest.raises(CheckFailed) as failure:
        await authorizer(BasicAuth(username="ad:min"), {"password": password}).apply(
            request,
            None,
            None,  # type: ignore[arg-type]  # basic needs no session
        )

    assert (failure.value.outcome, failure.value.detail) == (
        Outcome.CONFIG_ERROR,
        "a basic auth username cannot contain ':'",
    )
    assert "Authorization" not in request.headers
    leak_channels.secrets(password)
    leak_channels.add_exception("refusal", failure.value)
    leak_channels.assert_clean()


@pytest.mark.parametrize("breaker", ["\r", "\n", "\0"])
async def test_a_secret_that_would_break_its_header_is_refused_without_its_value(
    breaker: str, leak_channels: LeakChannels
) -> None:
    token = f"bt-7d2a9e41c{breaker}X-Injected: 1"
    request = Outgoing("GET", BASE)

    with pytest.raises(CheckFailed) as failure:
        await authorizer(BearerAuth(), {"token": token}).apply(
            request,
            None,
            None,  # type: ignore[arg-type]
        )

    assert (failure.value.outcome, failure.value.detail) == (
        Outcome.CONFIG_ERROR,
        "a secret is not usable as the value of header 'Authorization'",
    )
    assert dict(request.headers) == {}
    leak_channels.secrets("bt-7d2a9e41c")
    leak_channels.add_exception("refusal", failure.value)
    leak_channels.assert_clean()


def test_a_401_without_a_cached_token_drops_nothing_from_the_shared_cache() -> None:
    """A cache shared by checks: another connection's token stays after this one's 401."""
    tokens = TokenCache()
    tokens.put(("", ""), "other-tenant-token", 600, now=1000.0)
    tokens.put(("other", "k"), "other-token", 600, now=1000.0)

    authorizer(BearerAuth(), {"token": "t"}, tokens).rejected()

    assert tokens.get(("", ""), now=1001.0) == "other-tenant-token"
    assert tokens.get(("other", "k"), now=1001.0) == "other-token"
