"""The one "no secret" assertion of the HTTP check tests.

Every secret the provider knows (``ALL_SECRETS``, the Basic pair in its header
form) and every token made at run time (the access tokens the provider issued,
the JWTs connmgr signed and presented) must be absent, in every form the scanner
knows, from the results and from every log and output channel of the test.
"""

from __future__ import annotations

from collections.abc import Iterable

from http_providers import ALL_SECRETS, BASIC_PASSWORD, BASIC_USER, Provider

from connmgr.workers.checks.base import CheckResult
from support.leaks import LeakChannels


def assert_nothing_leaked(
    leak_channels: LeakChannels,
    provider: Provider,
    results: Iterable[CheckResult],
    secrets: Iterable[str] = (),
) -> None:
    leak_channels.secrets(*ALL_SECRETS, *secrets)
    leak_channels.scanner.add("basic password", BASIC_PASSWORD, username=BASIC_USER)
    issued, presented = provider.runtime_tokens()
    for number, token in enumerate(issued, start=1):
        leak_channels.scanner.add(f"issued access token {number}", token)
    for number, token in enumerate(presented, start=1):
        leak_channels.scanner.add_jwt(f"signed jwt {number}", token)
    for number, result in enumerate(results, start=1):
        leak_channels.add(f"result {number}", result)
    leak_channels.assert_clean()
