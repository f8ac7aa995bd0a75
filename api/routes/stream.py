"""Live push: Server-Sent Events of bay changes, resumable with ``Last-Event-ID``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.broadcast import LiveEvent
from api.deps import Services, ServicesDep, read_access, unknown_site
from api.routes.sites import NOT_FOUND
from parking.events import NAME_PATTERN

SEP = "\r\n"  # between an event's lines: sse-starlette's default, said once for the snapshot too
router = APIRouter(prefix="/api/v1", tags=["live"], dependencies=[Depends(read_access)])


def _sse(services: Services, event: LiveEvent) -> ServerSentEvent:
    data = event.raw if event.raw is not None else json.dumps(event.data, separators=(",", ":"))
    # A passing event (positions, status) carries no id, so the client's Last-Event-ID stays on the
    # last bay change and a reconnect resumes there.
    event_id = services.broadcaster.event_id(event.id) if event.id else None
    return ServerSentEvent(data=data, event=event.kind, id=event_id, sep=SEP)


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
                "event `snapshot` (all bays) first, then `bay` events on every change; reconnect with "
                "Last-Event-ID to resume where the stream left off. From a running simulator also, "
                "without ids and not replayed: `vehicles` (VehiclePositions: the cars on the road in "
                "both twins, at most twice a second, only while a client asks for them), `simulator` "
                "(SimulatorStatus, about once a second) and `kpi` (KpiView, the same as GET /api/v1/kpis: "
                "`searching_now` holds `without_sensors` (the twin town nobody steers) and `with_sensors`). "
                "Schemas: components VehiclePositions, SimulatorStatus, KpiView."
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
    vehicles: Annotated[
        bool,
        Query(
            description="send `vehicles` events (car positions of the simulated twins); false: the "
            "simulator computes none for this client",
            examples=[True],
        ),
    ] = True,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", include_in_schema=False)] = None,
) -> EventSourceResponse:
    """A stream of bay changes, car positions and KPI updates for screens and scripts."""
    if site is not None and services.registry.site(site) is None:
        raise unknown_site(site)
    broadcaster = services.broadcaster
    queue = broadcaster.subscribe()
    resume_from = broadcaster.parse_id(last_event_id)
    resume = broadcaster.since(resume_from) if resume_from is not None else None

    books = services.simulators
    renew_s = services.feed.leases.renew_s

    def wanted(event: LiveEvent) -> bool:
        if event.kind == "vehicles":
            return vehicles and event.data.get("site") in books.model_sites(site)
        return site is None or event.data.get("site") in (site, None)

    def watch() -> None:
        if vehicles:
            services.feed.want_vehicles(books.model_sites(site))

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
            wait_s = min(services.settings.sse_ping_s, renew_s) if vehicles else services.settings.sse_ping_s
            while True:
                watch()
                try:
                    item = await asyncio.wait_for(inbox.get(), wait_s)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    continue
                if item is None:  # this client fell too far behind: resend everything
                    inbox = broadcaster.subscribe()
                    yield _snapshot(services, site, broadcaster.last_id)
                    skip_to = broadcaster.last_id
                    continue
                if (item.id == 0 or item.id > skip_to) and wanted(item):
                    yield _sse(services, item)
        finally:
            broadcaster.unsubscribe(inbox)

    return EventSourceResponse(events(), ping=int(services.settings.sse_ping_s), send_timeout=30, sep=SEP)
