"""Live push: Server-Sent Events of bay changes, resumable with ``Last-Event-ID``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.broadcast import LiveEvent
from api.deps import Services, ServicesDep, read_access
from api.routes.sites import NOT_FOUND
from parking.events import NAME_PATTERN

SEP = "\r\n"  # between an event's lines: sse-starlette's default, said once for the snapshot too
router = APIRouter(prefix="/api/v1", tags=["live"], dependencies=[Depends(read_access)])


def _sse(services: Services, event: LiveEvent) -> ServerSentEvent:
    data = json.dumps(event.data, separators=(",", ":"))
    return ServerSentEvent(data=data, event=event.kind, id=services.broadcaster.event_id(event.id), sep=SEP)


def _snapshot(services: Services, site: str | None, last_id: int) -> bytes:
    """The ``snapshot`` event, encoded here: its JSON is made once per change of the bays, and
    sse-starlette's encoder would copy a city's megabytes line by line for every client."""
    sites = [services.registry.sites[site]] if site else list(services.registry.sites.values())
    parts = [inner for s in sites if (inner := services.current.of(s).messages_json)]
    event_id = services.broadcaster.event_id(last_id).encode()
    # The JSON has no line breaks (json.dumps escapes them in strings), so one data line holds it.
    sep = SEP.encode()
    return b'id: %s%sevent: snapshot%sdata: {"bays":[%s]}%s%s' % (
        event_id,
        sep,
        sep,
        b",".join(parts),
        sep,
        sep,
    )


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        **NOT_FOUND,
        200: {
            "content": {"text/event-stream": {}},
            "description": (
                "event `snapshot` (all bays) first, then `bay` events on every change; "
                "reconnect with Last-Event-ID to resume where the stream left off"
            ),
        },
    },
)
async def stream(
    request: Request,
    services: ServicesDep,
    site: Annotated[
        str | None, Query(pattern=f"^{NAME_PATTERN}$", description="Only this site", examples=["showroom"])
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", include_in_schema=False)] = None,
) -> EventSourceResponse:
    """A stream of bay changes (and KPI updates) for screens and scripts."""
    if site is not None and services.registry.site(site) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {site!r} is not known")
    broadcaster = services.broadcaster
    queue = broadcaster.subscribe()
    resume_from = broadcaster.parse_id(last_event_id)
    resume = broadcaster.since(resume_from) if resume_from is not None else None

    def wanted(event: LiveEvent) -> bool:
        return site is None or event.data.get("site") in (site, None)

    async def events() -> AsyncIterator[ServerSentEvent | bytes]:
        inbox = queue
        try:
            if resume is None:
                yield _snapshot(services, site, broadcaster.last_id)
                skip_to = broadcaster.last_id
            else:
                for event in resume:
                    if wanted(event):
                        yield _sse(services, event)
                skip_to = resume[-1].id if resume else (resume_from or 0)
            while True:
                try:
                    item = await asyncio.wait_for(inbox.get(), services.settings.sse_ping_s)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    continue
                if item is None:  # this client fell too far behind: resend everything
                    inbox = broadcaster.subscribe()
                    yield _snapshot(services, site, broadcaster.last_id)
                    skip_to = broadcaster.last_id
                    continue
                if item.id > skip_to and wanted(item):
                    yield _sse(services, item)
        finally:
            broadcaster.unsubscribe(inbox)

    return EventSourceResponse(events(), ping=int(services.settings.sse_ping_s), send_timeout=30, sep=SEP)
