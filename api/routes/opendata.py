"""Open-data exports of the current state as shown (``api.current``): FIWARE NGSI-LD, ParkAPI v3,
DATEX II light."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import ServicesDep, SiteDep, read_access
from api.opendata import (
    datex2_publication,
    fiware_on_street_parking,
    fiware_parking_spots,
    parkapi_list,
    parkapi_parking_site,
    parkapi_parking_spots,
)
from api.routes.sites import NOT_FOUND

router = APIRouter(prefix="/api/v1", tags=["open data"], dependencies=[Depends(read_access)])
Format = Annotated[
    Literal["keyvalues", "normalized"],
    Query(
        alias="format",
        description="NGSI-LD key-values (simple) or normalized (with observedAt)",
        examples=["keyvalues"],
    ),
]


class LdJsonResponse(JSONResponse):
    media_type = "application/ld+json"


@router.get("/sites/{site}/fiware/parking-spots", response_class=LdJsonResponse, responses=NOT_FOUND)
def fiware_spots(site: SiteDep, services: ServicesDep, fmt: Format = "keyvalues") -> list[dict[str, Any]]:
    """Every bay as a FIWARE ParkingSpot entity (NGSI-LD, with @context)."""
    return fiware_parking_spots(site, services.current.of(site).states, normalized=fmt == "normalized")


@router.get("/sites/{site}/fiware/on-street-parking", response_class=LdJsonResponse, responses=NOT_FOUND)
def fiware_site(site: SiteDep, services: ServicesDep, fmt: Format = "keyvalues") -> dict[str, Any]:
    """The site as a FIWARE OnStreetParking entity with live counters (NGSI-LD, with @context)."""
    return fiware_on_street_parking(site, services.current.of(site).states, normalized=fmt == "normalized")


@router.get("/sites/{site}/parkapi/parking-sites", responses=NOT_FOUND)
def parkapi_sites(site: SiteDep, services: ServicesDep) -> dict[str, Any]:
    """The site as a ParkAPI v3 parking site (list envelope)."""
    states = services.current.of(site).states
    return parkapi_list([parkapi_parking_site(site, states, static_data_updated_ns=site.modified_ns)])


@router.get("/sites/{site}/parkapi/parking-spots", responses=NOT_FOUND)
def parkapi_spots(site: SiteDep, services: ServicesDep) -> dict[str, Any]:
    """Every bay as a ParkAPI v3 parking spot (list envelope)."""
    states = services.current.of(site).states
    return parkapi_list(parkapi_parking_spots(site, states, static_data_updated_ns=site.modified_ns))


@router.get("/datex2/parking-publication-light")
def datex2(services: ServicesDep) -> dict[str, Any]:
    """All sites as a DATEX II v3 Parking Publication Light (JSON)."""
    sites = [(site, services.current.of(site).states) for site in services.registry.sites.values()]
    return datex2_publication(sites, time.time_ns())
