"""Where a running pull consumer's batches arrive, learned as an attacker on the
shared account would: from the reply subject of its pull requests."""

from __future__ import annotations

from nats.aio.client import Client
from nats.aio.msg import Msg

from support.waiting import wait_for


async def pull_inbox(nc: Client, stream: str, durable: str) -> str:
    seen: list[str] = []

    async def pulled(message: Msg) -> None:
        seen.append(message.reply)

    watch = await nc.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}", cb=pulled)
    await wait_for(lambda: seen, message=f"{durable} pulls")
    await watch.unsubscribe()
    return seen[0]
