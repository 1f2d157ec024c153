"""``leak_channels`` sees a secret on each channel it promises, and only there.

Each test plants a secret (base64-encoded, the form a plain ``in`` check misses)
on one channel and expects ``assert_clean`` to fail naming that channel; the
controls show what ``ignore_loggers`` and ``watch_from_here`` leave out.
"""

from __future__ import annotations

import base64
import logging
import sys
from collections.abc import Callable

import pytest
import structlog

from support.leaks import LeakChannels
from support.secret_scan import SecretLeaked

SECRET = "leak-Channel-Secret-5d8a2f"
ENCODED = base64.b64encode(f"app:{SECRET}".encode()).decode()


def raise_and_add(channels: LeakChannels) -> None:
    try:
        raise ConnectionError(f"refused Basic {ENCODED}")
    except ConnectionError as error:
        channels.add_exception("error", error)


PLANTERS: dict[str, tuple[str, Callable[[LeakChannels], None]]] = {
    "stdlib debug record": (
        "log records",
        lambda _: logging.getLogger("connmgr.test").debug("header %s", ENCODED),
    ),
    "structlog event": (
        "structlog events",
        lambda _: structlog.get_logger("connmgr.test").debug("sent", auth=ENCODED),
    ),
    "stdout": ("stdout", lambda _: print(ENCODED)),
    "stderr": ("stderr", lambda _: print(ENCODED, file=sys.stderr)),
    "exception": ("error", raise_and_add),
    "added text": ("result", lambda channels: channels.add("result", {"detail": ENCODED})),
}


@pytest.mark.parametrize("name", list(PLANTERS))
def test_a_secret_on_each_channel_is_found_there(name: str, leak_channels: LeakChannels) -> None:
    channel, plant = PLANTERS[name]
    leak_channels.secrets(SECRET)

    plant(leak_channels)

    with pytest.raises(SecretLeaked, match=f"{channel}: secret 1 as base64"):
        leak_channels.assert_clean()


def test_clean_channels_pass_and_a_scan_without_secrets_is_refused(
    leak_channels: LeakChannels,
) -> None:
    logging.getLogger("connmgr.test").debug("nothing secret here")
    with pytest.raises(ValueError, match="no secrets"):
        leak_channels.assert_clean()

    leak_channels.secrets(SECRET)
    leak_channels.assert_clean()


def test_a_peers_logger_can_be_left_out(leak_channels: LeakChannels) -> None:
    leak_channels.secrets(SECRET)
    logging.getLogger("peer.server").debug("received %s", SECRET)
    leak_channels.ignore_loggers("peer.")
    leak_channels.assert_clean()

    logging.getLogger("connmgr.client").debug("sent %s", SECRET)
    with pytest.raises(SecretLeaked, match="log records"):
        leak_channels.assert_clean()


def test_set_up_before_watch_from_here_is_left_out(leak_channels: LeakChannels) -> None:
    leak_channels.secrets(SECRET)
    logging.getLogger("connmgr.seed").debug("seeded %s", SECRET)
    print(SECRET)
    leak_channels.watch_from_here()
    leak_channels.assert_clean()

    print(SECRET)
    with pytest.raises(SecretLeaked, match="stdout"):
        leak_channels.assert_clean()


def test_output_read_by_the_test_is_still_scanned(leak_channels: LeakChannels) -> None:
    leak_channels.secrets(SECRET)
    print(f"token {SECRET}")

    out, _ = leak_channels.output()

    assert SECRET in out  # the test saw it ...
    with pytest.raises(SecretLeaked, match="stdout"):
        leak_channels.assert_clean()  # ... and so did the scan
