"""The routing table of checks: one per connection kind, all behind one egress policy."""

from __future__ import annotations

from connmgr.schemas.kinds import Kind
from connmgr.workers.checks.base import Check
from connmgr.workers.checks.http import HttpCheck
from connmgr.workers.checks.imap import ImapCheck
from connmgr.workers.checks.mongodb import MongodbCheck
from connmgr.workers.checks.mysql import MysqlCheck
from connmgr.workers.checks.postgres import PostgresCheck
from connmgr.workers.checks.redis import RedisCheck
from connmgr.workers.checks.s3 import S3Check
from connmgr.workers.checks.smtp import SmtpCheck
from connmgr.workers.checks.tcp import TcpCheck
from connmgr.workers.checks.webhook import WebhookCheck
from connmgr.workers.egress import Egress


def build_checks(egress: Egress) -> dict[Kind, Check]:
    checks: list[Check] = [
        PostgresCheck(egress),
        MysqlCheck(egress),
        MongodbCheck(egress),
        RedisCheck(egress),
        HttpCheck(egress),
        WebhookCheck(egress),
        S3Check(egress),
        SmtpCheck(egress),
        ImapCheck(egress),
        TcpCheck(egress),
    ]
    return {check.kind: check for check in checks}
