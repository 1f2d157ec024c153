"""The console script's own promises."""

from __future__ import annotations

import pytest

from connmgr.runtime.cli import build_parser
from connmgr.schemas.kinds import Kind
from connmgr.workers.checks.registry import build_checks
from connmgr.workers.egress import Egress, EgressPolicy


def test_a_mistyped_secret_option_is_never_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(
            ["create", "--name", "x", "--kind", "tcp", "--password", "hunter2"]
        )
    assert exit_info.value.code == 2
    assert "hunter2" not in capsys.readouterr().err


def test_every_kind_has_a_check() -> None:
    assert set(build_checks(Egress(EgressPolicy()))) == set(Kind)


def test_every_pool_can_be_started_as_a_worker() -> None:
    for pool in ("encryptor", "relay", "tester", "prober", "notifier"):
        assert build_parser().parse_args(["worker", pool]).pool == pool
