"""At ``CONNMGR_LOG_LEVEL=debug`` a failed Redis login writes no password anywhere.

The machine's Redis checks ACL passwords. With logging configured exactly as a
connmgr process does it, at debug, the Redis check and redis-py's own client
(whose ``redis.asyncio.connection`` logger writes server error texts at debug)
try a wrong password; stderr and pytest's log capture must not hold it. The
positive controls: the right password is ``ok``, connmgr's own debug lines do
appear, and the wrong password really was refused.
"""

from __future__ import annotations

import json
import logging
import secrets

import pytest
import redis.asyncio as redis
import structlog
from db_subjects import redis_subject
from redis.exceptions import AuthenticationError

from connmgr.runtime.logging import configure_logging
from connmgr.schemas.settings import Settings
from connmgr.workers.checks.base import Outcome
from connmgr.workers.checks.redis import RedisCheck
from connmgr.workers.egress import Egress
from support.leaks import LeakChannels
from support.logging_capture import restored_logging


async def test_a_wrong_redis_password_is_never_logged_at_debug(
    redis_users: tuple[str, str, str],
    egress: Egress,
    leak_channels: LeakChannels,
) -> None:
    user, password, _ = redis_users
    wrong = f"wrong-{secrets.token_hex(8)}"
    subject = redis_subject(user, password)
    with restored_logging():
        configure_logging(Settings(log_format="json", log_level="debug"))
        refused = await RedisCheck(egress).run(subject.target(password=wrong))
        accepted = await RedisCheck(egress).run(subject.target())
        client = redis.Redis(host="127.0.0.1", port=6379, username=user, password=wrong)
        with pytest.raises(AuthenticationError) as raised:
            await client.ping()
        await client.aclose()
        structlog.get_logger("connmgr.test").exception("redis_login_failed", exc_info=raised.value)
        logging.getLogger("redis.asyncio.client").warning("client said %r", raised.value)

    _, written = leak_channels.output()
    assert (refused.outcome, accepted.outcome) == (Outcome.AUTH_FAILED, Outcome.OK)
    assert '"event": "check_failed"' in written  # connmgr's own debug line
    assert '"event": "redis_login_failed"' in written
    library_lines = [line for line in map(json.loads, written.splitlines()) if
                     not line["logger"].startswith("connmgr")]  # fmt: skip
    # redis-py's debug lines on the failure are gone; its warning (the control) is kept.
    assert ("redis.asyncio.client", "warning") in [(x["logger"], x["level"]) for x in library_lines]
    assert {x["level"] for x in library_lines} <= {"warning", "error", "critical"}
    leak_channels.secrets(wrong, password)
    leak_channels.add("results", [refused, accepted])
    leak_channels.add_exception("redis-py's error", raised.value)
    leak_channels.assert_clean()
