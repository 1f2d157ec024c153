"""Fixtures of the service-check tests (S3, SMTP, IMAP, TCP): loopback peers only."""

from __future__ import annotations

import logging

import pytest
from svc_pki import Pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.make(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every log record at DEBUG, so leak assertions see all of them."""
    caplog.set_level(logging.DEBUG)
