"""``GET /api/events/stream``: the tenant's events as Server-Sent Events, live.

- each event is ``id: <log position>``, ``event: <type>``, ``data: <EventView JSON>``
  (secrets reduced to their field names, as in ``/api/events``);
- resumable: ``Last-Event-ID`` (or ``?after=``) replays every event of the tenant
  after that position from the log, then goes on live, so a reconnect misses
  nothing; without either the stream starts at the present;
- a comment line every ``heartbeat_s`` keeps proxies from closing an idle stream;
  at each one the token is checked again, so a revoked token's stream ends within
  the token cache's TTL plus one heartbeat;
- at most ``per_token`` open streams per token: one more is a ``429`` problem;
- one log reader per process feeds them all (``log_fanout``); a stream that falls
  too far behind is closed, and its client resumes with ``Last-Event-ID``;
- a client that leaves ends its stream at the next write, quietly: the write's
  ``ConnectionResetError`` is the client's, not the database's.
"""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from connmgr.api.app_state import ENGINE, GRANT, STREAMS, TOKENS
from connmgr.api.bearer_tokens import bearer_token
from connmgr.api.live_streams import LiveFeed
from connmgr.api.log_fanout import Subscription
from connmgr.api.params import parse_query
from connmgr.storage.reads import event_pages
from connmgr.storage.reads.paging import MAX_LIMIT
from connmgr.storage.reads.views import EventView
from connmgr.storage.tokens import SCOPE_EVENTS_READ

RETRY_MS: Final = 2000


class EventStreamQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: int | None = Field(
        default=None,
        ge=0,
        description="Replay events after this log position (as Last-Event-ID does).",
    )


async def event_stream(request: web.Request) -> web.StreamResponse:
    query = parse_query(request, EventStreamQuery)
    feed = request.app[STREAMS]
    token = bearer_token(request)
    with feed.slot(token):
        subscription, head = await feed.fanout.subscribe(request[GRANT].tenant)
        try:
            return await _serve(request, feed, subscription, _start(request, query, head))
        finally:
            feed.fanout.unsubscribe(subscription)


async def _serve(
    request: web.Request, feed: LiveFeed, subscription: Subscription, after: int
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
            "Vary": "Authorization",
        }
    )
    await response.prepare(request)
    try:
        await _stream(request, response, feed, subscription, after)
    except ConnectionResetError:
        if not _client_gone(request):
            raise
        # The client left: its next write found the connection closed. Not a fault.
    return response


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    feed: LiveFeed,
    subscription: Subscription,
    after: int,
) -> None:
    await response.write(f"retry: {RETRY_MS}\n\n".encode())
    sent = await _replay(request, response, after)
    overflow = asyncio.ensure_future(subscription.overflowed.wait())
    try:
        while not overflow.done():
            getting = asyncio.ensure_future(subscription.queue.get())
            done, _ = await asyncio.wait(
                {getting, overflow}, timeout=feed.heartbeat_s, return_when=asyncio.FIRST_COMPLETED
            )
            if getting not in done:
                getting.cancel()
                if not done and not await _still_allowed(request):
                    break
                if not done:
                    await response.write(b": heartbeat\n\n")
                continue
            event = getting.result()
            if event.position > sent:
                await response.write(_frame(event))
                sent = event.position
    finally:
        overflow.cancel()


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _replay(request: web.Request, response: web.StreamResponse, after: int) -> int:
    tenant = request[GRANT].tenant
    while True:
        page = await event_pages.events_after(
            request.app[ENGINE], tenant, after=after, limit=MAX_LIMIT
        )
        for event in page.items:
            await response.write(_frame(event))
        after = page.next_after
        if not page.has_more:
            return after


async def _still_allowed(request: web.Request) -> bool:
    grant = await request.app[TOKENS].resolve(request.app[ENGINE], bearer_token(request))
    allowed = grant is not None and grant.allows(SCOPE_EVENTS_READ)
    return allowed and grant is not None and grant.tenant == request[GRANT].tenant


def _start(request: web.Request, query: EventStreamQuery, head: int) -> int:
    last_id = request.headers.get("Last-Event-ID", "").strip()
    if last_id.isdigit() and len(last_id) <= 18:
        return int(last_id)
    return head if query.after is None else query.after


def _frame(event: EventView) -> bytes:
    data = event.__pydantic_serializer__.to_json(event).decode()
    return f"id: {event.position}\nevent: {event.type}\ndata: {data}\n\n".encode()
