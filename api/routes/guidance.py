"""Guidance to a free bay, and free counts for variable message signs."""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from api.deps import ServicesDep, SiteDep, read_access, unknown_site
from api.guidance import sign_text, site_destination
from api.models import GuidanceAnswer, SignCounts
from api.routes.sites import NOT_FOUND
from parking.events import NAME_PATTERN

router = APIRouter(prefix="/api/v1", tags=["guidance"], dependencies=[Depends(read_access)])


def client_key(request: Request) -> str:
    """Who asks, for the per-client bound on holds: the address, or its /64 for IPv6 (one
    subscriber's addresses share it)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# Documented, not filtered: the answer keeps its two shapes (a bay, or none and a message).
@router.get("/guidance", response_model=None, responses={**NOT_FOUND, 200: {"model": GuidanceAnswer}})
async def guidance(
    request: Request,
    services: ServicesDep,
    site: Annotated[str, Query(pattern=f"^{NAME_PATTERN}$", description="Site id", examples=["town-centre"])],
    lat: Annotated[
        float | None, Query(ge=-90, le=90, description="Destination latitude (WGS84)", examples=[54.3213])
    ] = None,
    lon: Annotated[
        float | None, Query(ge=-180, le=180, description="Destination longitude (WGS84)", examples=[10.135])
    ] = None,
    alternatives: Annotated[
        int, Query(ge=0, le=20, description="Further free bays to list", examples=[3])
    ] = 3,
) -> dict[str, Any]:
    """The free bay nearest the destination, softly reserved for a while, with alternatives.

    Without lat/lon the site's main destination (e.g. the market square) is used. Two requests are
    never sent to the same bay while its reservation holds. Holds are bounded so that nobody can
    hide every free bay: by default at most half of a zone's free bays are held at once, one
    client holds at most two, and holds are shorter where bays are scarce (PARKLOTSE_GUIDANCE_*,
    docs/api.md). Past a bound the bay is still given, with `reserved_until` null.
    """
    found = services.registry.site(site)
    if found is None:
        raise unknown_site(site)
    if (lat is None) != (lon is None):
        raise HTTPException(422, "give both lat and lon, or neither")
    dest_lon, dest_lat = (lon, lat) if lon is not None and lat is not None else site_destination(found)
    now = services.current.of(found)
    result = services.guide.suggest(
        now, dest_lon, dest_lat, time.time_ns(), alternatives=alternatives, client=client_key(request)
    )
    if result is None:
        return {
            "site": site,
            "destination": {"lat": dest_lat, "lon": dest_lon},
            "bay": None,
            "alternatives": [],
            "message": "no free bay in this site right now",
        }
    return {"destination": {"lat": dest_lat, "lon": dest_lon}, **result.as_message()}


@router.get(
    "/sites/{site}/sign",
    response_model=None,
    responses={**NOT_FOUND, 200: {"model": SignCounts, "content": {"text/plain": {}}}},
)
async def sign(
    site: SiteDep,
    services: ServicesDep,
    fmt: Annotated[
        Literal["json", "text"],
        Query(alias="format", description="JSON, or plain text lines for the sign", examples=["text"]),
    ] = "json",
    lang: Annotated[
        Literal["de", "en"], Query(description="Language of the text lines", examples=["en"])
    ] = "de",
) -> Any:
    """Free bays per zone for a variable message sign, as JSON or as plain text lines."""
    counts = services.current.of(site).summary.zones
    if fmt == "text":
        return PlainTextResponse(sign_text(site, counts, lang, title=True))
    return {"site": site.id, "zones": counts}
