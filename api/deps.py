"""FastAPI dependencies: everything a route needs comes from the app's state through these."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.broadcast import Broadcaster
from api.guidance import Guide
from api.livefeed import LiveFeed
from api.models import BayView
from api.settings import ApiSettings
from api.simulators import SimulatorBook
from parking.events import NAME_PATTERN
from parking.registry import Registry, Site
from parking.state import BayState, LiveState
from parking.store import InfluxStore


class BayListJson:
    """The JSON of a site's bay list, one fragment per bay, kept with the state it was made from.

    Validating and serializing 10,000 bays through the response model takes a tenth of a second;
    rebuilt only for the bays whose shown state changed, the list takes a few milliseconds. The
    fragments are the response model's own serialization, so the bytes are the same. Bounded by
    the registry's bays (one fragment each).
    """

    def __init__(self) -> None:
        self._fragments: dict[str, dict[str, tuple[BayState, bytes]]] = {}  # site -> bay -> ...

    def body(self, site: Site, states: Iterable[BayState]) -> bytes:
        fragments = self._fragments.setdefault(site.id, {})
        parts = []
        for state in states:
            cached = fragments.get(state.bay)
            if cached is None or (cached[0] is not state and cached[0] != state):
                bay = site.bays[state.bay]
                view = BayView.model_validate(
                    {**state.as_message(), "zone": bay.zone, "lon": bay.lon, "lat": bay.lat}
                )
                cached = fragments[state.bay] = (state, view.__pydantic_serializer__.to_json(view))
            parts.append(cached[1])
        return b"[" + b",".join(parts) + b"]"


@dataclass
class Services:
    """Long-lived objects opened in the lifespan and closed there."""

    settings: ApiSettings
    registry: Registry
    store: InfluxStore
    live: LiveState
    broadcaster: Broadcaster
    feed: LiveFeed
    simulators: SimulatorBook
    guide: Guide
    bay_json: BayListJson = field(default_factory=BayListJson)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
# Two names for the same token, so that the OpenAPI document can say which operations always need
# it (control) and which only when PARKLOTSE_API_PRIVATE_READS is set (reads; see api.app).
TOKEN_SCHEME = "ApiToken"
READ_TOKEN_SCHEME = "ReadToken"
_bearer = HTTPBearer(
    auto_error=False, scheme_name=TOKEN_SCHEME, description="The API token (PARKLOTSE_API_TOKEN)"
)
_read_bearer = HTTPBearer(
    auto_error=False,
    scheme_name=READ_TOKEN_SCHEME,
    description="The API token, needed for reads when PARKLOTSE_API_PRIVATE_READS is set",
)


def require_token(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    expected = services.settings.api_token.get_secret_value()
    if credentials is None or credentials.credentials != expected:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


def read_access(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_read_bearer)]
) -> None:
    if services.settings.api_private_reads:
        require_token(services, credentials)


SiteId = Annotated[
    str, Path(pattern=f"^{NAME_PATTERN}$", description="Site id, e.g. showroom", examples=["showroom"])
]


def get_site(site: SiteId, services: ServicesDep) -> Site:
    found = services.registry.site(site)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {site!r} is not known")
    return found


SiteDep = Annotated[Site, Depends(get_site)]


def current_states(site: Site, services: Services) -> list[BayState]:
    """The site's bays as shown now: a sensor silent too long counts as unknown."""
    now = time.time_ns()
    stale = int(services.settings.stale_after_s * 1e9)
    cutoff = now - stale
    # with_staleness only where it can change something: a per-bay call costs most of the time
    # on a site of 10,000 bays.
    return [
        s.with_staleness(now, stale) if s.last_seen_ns is not None and s.last_seen_ns < cutoff else s
        for s in services.live.site_bays(site.id)
    ]
