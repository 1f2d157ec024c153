"""Stream definitions: created once, upgraded in place, never downgraded by a pool."""

from __future__ import annotations

import dataclasses

import nats

from connmgr.schemas.bus import COMMAND_STREAM, schedule_subjects_all
from connmgr.workers.streams import command_stream_config, ensure_streams


async def test_an_older_command_stream_gains_the_schedule_subjects(nats_server_factory) -> None:  # type: ignore[no-untyped-def]
    server = await nats_server_factory()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        old = dataclasses.replace(
            command_stream_config(),
            subjects=["connmgr.cmd.>"],
            allow_msg_schedules=None,
            allow_rollup_hdrs=None,
        )
        await js.add_stream(old)
        await ensure_streams(js)
        await ensure_streams(js)
        info = await js.stream_info(COMMAND_STREAM)
        assert schedule_subjects_all() in (info.config.subjects or [])
        assert info.config.allow_msg_schedules
        assert info.config.num_replicas == 1
    finally:
        await nc.close()
