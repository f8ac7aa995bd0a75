"""Guidance to a free bay with soft reservations, bounds on those reservations, and sign texts.

Every case goes through the path the API takes: states put into a ``LiveState``, shown by a
``CurrentView`` (silent sensors as unknown), then ``Guide.suggest``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from api.current import CurrentView, SiteNow
from api.guidance import Guide, HoldPolicy, distance_m, sign_text, site_destination
from api.models import ZoneSummary
from parking.events import BayStatus
from parking.registry import Registry, Site, load_site, parse_site
from parking.settings import PACKAGED_SITES_DIR
from parking.state import BayState, LiveState

NOW = 1_763_719_200_000_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

# The destination sits at the west end of a street; bay n is n * 10 m or so further east.
DEST = (9.37, 53.92)
STEP = 0.00015  # degrees of longitude, about 10 m at this latitude
# Reservations without the bounds, for the cases about reserving as such.
UNBOUNDED = HoldPolicy(max_held_share=1.0, client_holds=1_000)


def _site(site_id: str = "street", bays: tuple[tuple[str, str, float], ...] | None = None) -> Site:
    """Point bays along one street: (bay id, zone, offset east of the destination in steps)."""
    if bays is None:
        bays = (
            ("P1", "Markt", 1),
            ("P2", "Markt", 2),
            ("P3", "Markt", 3),
            ("P4", "Nord", 4),
            ("P5", "Nord", 5),
        )
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [DEST[0] + offset * STEP, DEST[1]]},
            "properties": {"bay": bay, "zone": zone},
        }
        for bay, zone, offset in bays
    ]
    document = {
        "type": "FeatureCollection",
        "site": {"id": site_id, "name": "Marktstraße"},
        "features": features,
    }
    return parse_site(document, Path(f"{site_id}.geojson"))


def _state(
    bay: str, status: BayStatus = BayStatus.FREE, *, seen: int = NOW, site: str = "street"
) -> BayState:
    return BayState(site, bay, status, since_ns=seen, last_seen_ns=seen)


def _all(site: Site, status: BayStatus = BayStatus.FREE) -> dict[str, BayState]:
    return {bay: _state(bay, status, site=site.id) for bay in site.bays}


def _shown(
    site: Site, states: Mapping[str, BayState] | Iterable[BayState], *, at: int = NOW, stale: int = 6 * HOUR
) -> SiteNow:
    """The site as the API shows it at ``at``: bays without a state unknown, silent ones too."""
    live = LiveState(Registry([site]))
    for state in states.values() if isinstance(states, Mapping) else states:
        live.put(state)
    return CurrentView(live, stale, clock=lambda: at).of(site)


@pytest.fixture
def site() -> Site:
    return _site()


@pytest.fixture
def guide() -> Guide:
    return Guide(UNBOUNDED)


def _bay(guide: Guide, now: SiteNow, at: int = NOW, client: str = "") -> str | None:
    guidance = guide.suggest(now, *DEST, at, client=client)
    return None if guidance is None else guidance.bay.bay


# --- choosing a bay --------------------------------------------------------------------------


def test_suggests_the_free_bay_nearest_to_the_destination(site: Site, guide: Guide) -> None:
    assert _bay(guide, _shown(site, _all(site) | {"P1": _state("P1", BayStatus.OCCUPIED)})) == "P2"


def test_reports_the_walking_distance_in_metres(site: Site, guide: Guide) -> None:
    guidance = guide.suggest(_shown(site, _all(site)), *DEST, NOW)
    assert guidance is not None
    assert guidance.bay.distance_m == pytest.approx(
        STEP * 111_195 * math.cos(math.radians(DEST[1])), rel=1e-3
    )


def test_distance_is_great_circle_metres() -> None:
    assert distance_m(9.0, 53.0, 9.0, 54.0) == pytest.approx(111_195, rel=1e-4)


def test_equally_distant_bays_are_chosen_by_bay_id(guide: Guide) -> None:
    site = _site(bays=(("Z9", "Markt", 1), ("B2", "Markt", -1), ("C3", "Markt", 1)))
    assert _bay(guide, _shown(site, _all(site))) == "B2"


def test_nothing_free_gives_no_guidance(site: Site, guide: Guide) -> None:
    assert guide.suggest(_shown(site, _all(site, BayStatus.OCCUPIED)), *DEST, NOW) is None


def test_unknown_bays_are_never_suggested(site: Site, guide: Guide) -> None:
    guidance = guide.suggest(_shown(site, _all(site, BayStatus.UNKNOWN) | {"P5": _state("P5")}), *DEST, NOW)
    assert guidance is not None
    assert guidance.bay.bay == "P5"
    assert guidance.alternatives == ()


def test_bays_without_any_state_are_never_suggested(site: Site, guide: Guide) -> None:
    assert guide.suggest(_shown(site, []), *DEST, NOW) is None


def test_closed_bays_are_never_suggested(site: Site, guide: Guide) -> None:
    assert guide.suggest(_shown(site, _all(site, BayStatus.CLOSED)), *DEST, NOW) is None


def test_a_bay_whose_sensor_went_silent_is_not_suggested(site: Site, guide: Guide) -> None:
    states = _all(site) | {"P1": _state("P1", seen=NOW - 2 * HOUR)}
    assert _bay(guide, _shown(site, states, stale=HOUR)) == "P2"


def test_alternatives_are_the_next_nearest_free_bays_in_order(site: Site, guide: Guide) -> None:
    now = _shown(site, _all(site) | {"P2": _state("P2", BayStatus.OCCUPIED)})
    guidance = guide.suggest(now, *DEST, NOW, alternatives=2)
    assert guidance is not None
    assert [option.bay for option in guidance.alternatives] == ["P3", "P4"]
    distances = [guidance.bay.distance_m, *(option.distance_m for option in guidance.alternatives)]
    assert distances == sorted(distances)


def test_no_alternatives_when_none_are_asked_for(site: Site, guide: Guide) -> None:
    guidance = guide.suggest(_shown(site, _all(site)), *DEST, NOW, alternatives=0)
    assert guidance is not None
    assert guidance.alternatives == ()


def test_an_invalid_destination_is_refused(site: Site, guide: Guide) -> None:
    now = _shown(site, _all(site))
    with pytest.raises(ValueError, match="destination"):
        guide.suggest(now, 200.0, 53.0, NOW)
    with pytest.raises(ValueError, match="destination"):
        guide.suggest(now, math.nan, 53.0, NOW)


def test_a_negative_alternatives_count_is_refused(site: Site, guide: Guide) -> None:
    with pytest.raises(ValueError, match="alternatives"):
        guide.suggest(_shown(site, _all(site)), *DEST, NOW, alternatives=-1)


# --- soft reservations -----------------------------------------------------------------------


def test_two_requests_never_get_the_same_bay_while_it_is_reserved(site: Site, guide: Guide) -> None:
    now = _shown(site, _all(site))
    assert (_bay(guide, now), _bay(guide, now, NOW + SECOND)) == ("P1", "P2")


def test_every_request_gets_its_own_bay_until_none_is_left(site: Site, guide: Guide) -> None:
    now = _shown(site, _all(site))
    chosen = [_bay(guide, now, NOW + i * SECOND) for i in range(len(site.bays))]
    assert chosen == ["P1", "P2", "P3", "P4", "P5"]
    assert _bay(guide, now, NOW + 10 * SECOND) is None


def test_reserved_bays_are_not_offered_as_alternatives(site: Site, guide: Guide) -> None:
    now = _shown(site, _all(site))
    guide.suggest(now, *DEST, NOW)
    guidance = guide.suggest(now, *DEST, NOW, alternatives=3)
    assert guidance is not None
    assert "P1" not in [option.bay for option in guidance.alternatives]


def test_alternatives_are_not_reserved(site: Site, guide: Guide) -> None:
    guide.suggest(_shown(site, _all(site)), *DEST, NOW, alternatives=3)
    assert guide.reservations(site.id, NOW) == {"P1": NOW + 120 * SECOND}


def test_a_reservation_holds_until_its_hold_time_runs_out(site: Site) -> None:
    guide = Guide(HoldPolicy(hold_s=60, max_held_share=1.0))
    now = _shown(site, _all(site))
    _bay(guide, now)
    assert _bay(guide, now, NOW + 60 * SECOND - 1) == "P2"


def test_an_expired_reservation_frees_the_bay_for_the_next_driver(site: Site) -> None:
    guide = Guide(HoldPolicy(hold_s=60, max_held_share=1.0))
    now = _shown(site, _all(site))
    _bay(guide, now)
    assert _bay(guide, now, NOW + 60 * SECOND) == "P1"


def test_the_guidance_says_until_when_the_bay_is_held(site: Site) -> None:
    guidance = Guide(HoldPolicy(hold_s=90)).suggest(_shown(site, _all(site)), *DEST, NOW)
    assert guidance is not None
    assert guidance.reserved_until_ns == NOW + 90 * SECOND


def test_a_reservation_ends_when_the_bay_is_seen_occupied(site: Site, guide: Guide) -> None:
    _bay(guide, _shown(site, _all(site)))
    _bay(guide, _shown(site, _all(site) | {"P1": _state("P1", BayStatus.OCCUPIED)}), NOW + SECOND)
    assert "P1" not in guide.reservations(site.id, NOW + SECOND)
    # The car left again within the original hold: the bay is offered again at once.
    assert _bay(guide, _shown(site, [_state("P1")]), NOW + 2 * SECOND) == "P1"


def test_a_bay_whose_state_is_unknown_stays_reserved(site: Site, guide: Guide) -> None:
    _bay(guide, _shown(site, _all(site)))
    _bay(guide, _shown(site, [_state("P1", BayStatus.UNKNOWN)]), NOW + SECOND)
    assert "P1" in guide.reservations(site.id, NOW + SECOND)


def test_a_zero_hold_reserves_nothing(site: Site) -> None:
    guide = Guide(HoldPolicy(hold_s=0))
    guidance = guide.suggest(_shown(site, _all(site)), *DEST, NOW)
    assert guidance is not None and guidance.reserved_until_ns is None
    assert guide.reservations(site.id, NOW) == {}
    assert len(guide) == 0


def test_reservations_belong_to_one_site(site: Site, guide: Guide) -> None:
    other = _site("other")
    _bay(guide, _shown(site, _all(site)))
    assert _bay(guide, _shown(other, _all(other))) == "P1"


def test_expired_reservations_are_dropped_by_the_next_request(site: Site) -> None:
    guide = Guide(HoldPolicy(hold_s=10, max_held_share=1.0))
    now = _shown(site, _all(site))
    _bay(guide, now)
    _bay(guide, now)
    _bay(guide, now, NOW + 10 * SECOND)
    assert len(guide) == 1


def test_memory_stays_bounded_by_the_number_of_bays(site: Site, guide: Guide) -> None:
    now = _shown(site, _all(site))
    for i in range(1000):
        _bay(guide, now, NOW + i * SECOND, client=f"10.0.{i // 256}.{i % 256}")
        assert len(guide) <= len(site.bays)


def test_guidance_as_a_message_is_plain_json(site: Site, guide: Guide) -> None:
    guidance = guide.suggest(_shown(site, _all(site)), *DEST, NOW, alternatives=1)
    assert guidance is not None
    message = guidance.as_message()
    assert json.loads(json.dumps(message)) == message
    assert message["site"] == "street"
    assert message["bay"] == "P1"
    assert message["reserved_until"] == "2025-11-21T10:02:00.000Z"
    assert [option["bay"] for option in message["alternatives"]] == ["P2"]


def test_an_unheld_bay_says_so_in_the_message(site: Site) -> None:
    guidance = Guide(HoldPolicy(hold_s=0)).suggest(_shown(site, _all(site)), *DEST, NOW)
    assert guidance is not None and guidance.as_message()["reserved_until"] is None


# --- bounds on reservations: nobody can hide every free bay -----------------------------------


def test_a_zone_never_has_more_than_half_of_its_free_bays_held(site: Site) -> None:
    guide = Guide()
    now = _shown(site, _all(site))  # Markt: 3 free, Nord: 2 free
    east = (DEST[0] + 6 * STEP, DEST[1])  # beyond Nord's end of the street
    for i in range(20):
        guidance = guide.suggest(now, *(DEST if i % 2 else east), NOW + i * SECOND, client=f"10.0.0.{i}")
        assert guidance is not None
    held = guide.reservations(site.id, NOW + 20 * SECOND)
    assert sorted(held) == ["P1", "P5"]  # one of Markt's three, one of Nord's two


def test_a_zone_with_one_free_bay_holds_none_and_still_guides_every_driver(site: Site) -> None:
    guide = Guide()
    now = _shown(site, [_state("P3")])
    for i in range(5):
        guidance = guide.suggest(now, *DEST, NOW + i * SECOND, client=f"10.0.0.{i}")
        assert guidance is not None and guidance.bay.bay == "P3" and guidance.reserved_until_ns is None
    assert len(guide) == 0


def test_a_hundred_anonymous_requests_leave_the_next_driver_a_bay(site: Site) -> None:
    guide = Guide()
    now = _shown(site, _all(site))
    for i in range(100):
        guide.suggest(
            now, *DEST, NOW + i * MINUTE // 100, alternatives=0, client=f"10.0.{i // 256}.{i % 256}"
        )
    assert len(guide) <= 2
    assert _bay(guide, now, NOW + MINUTE, client="192.0.2.1") is not None


def test_one_client_holds_at_most_two_bays_at_once(site: Site) -> None:
    guide = Guide(HoldPolicy(max_held_share=1.0))
    now = _shown(site, _all(site))
    answers = [guide.suggest(now, *DEST, NOW, client="10.0.0.1") for _ in range(4)]
    assert [a.bay.bay for a in answers if a is not None] == ["P1", "P2", "P3", "P3"]
    assert [a.reserved_until_ns is not None for a in answers if a is not None] == [True, True, False, False]
    assert _bay(guide, now, client="10.0.0.2") == "P3"


def test_a_client_may_hold_again_once_its_holds_ended(site: Site) -> None:
    guide = Guide(HoldPolicy(max_held_share=1.0, hold_s=60))
    now = _shown(site, _all(site))
    for _ in range(2):
        guide.suggest(now, *DEST, NOW, client="10.0.0.1")
    later = guide.suggest(now, *DEST, NOW + 60 * SECOND, client="10.0.0.1")
    assert later is not None and later.reserved_until_ns is not None


def test_holds_are_shorter_where_bays_are_scarce() -> None:
    site = _site(bays=tuple((f"P{i:02}", "Markt", i) for i in range(1, 21)))
    states = _all(site, BayStatus.OCCUPIED) | {"P19": _state("P19"), "P20": _state("P20")}  # 10 % free
    guidance = Guide().suggest(_shown(site, states), *DEST, NOW)
    assert guidance is not None and guidance.reserved_until_ns == NOW + 30 * SECOND


@pytest.mark.parametrize(
    ("field", "value"),
    [("hold_s", -1.0), ("scarce_hold_s", math.inf), ("max_held_share", 1.5), ("scarce_free_share", -0.1)],
)
def test_a_policy_out_of_range_is_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        HoldPolicy(**{field: value})  # type: ignore[arg-type]


# --- destinations ----------------------------------------------------------------------------


def test_the_showroom_destination_comes_from_its_site_file() -> None:
    showroom = load_site(PACKAGED_SITES_DIR / "showroom.geojson")
    assert site_destination(showroom) == (9.3684746, 53.9195508)  # the middle of its town face


def test_a_site_without_a_destination_uses_the_centre_of_its_bays(site: Site) -> None:
    assert site_destination(site) == site.center


def test_the_showroom_guides_to_a_bay_nearest_its_destination() -> None:
    showroom = load_site(PACKAGED_SITES_DIR / "showroom.geojson")
    states = [BayState("showroom", bay, BayStatus.FREE, NOW, NOW) for bay in showroom.bays]
    guidance = Guide().suggest(_shown(showroom, states), *site_destination(showroom), NOW)
    assert guidance is not None
    nearest = min(
        showroom.bays.values(),
        key=lambda b: (round(distance_m(b.lon, b.lat, *site_destination(showroom)), 3), b.id),
    )
    assert guidance.bay.bay == nearest.id


# --- sign texts, from the zone counts of the site as shown -------------------------------------


def _zones(
    site: Site, states: Mapping[str, BayState] | Iterable[BayState], **shown: int
) -> list[ZoneSummary]:
    return _shown(site, states, **shown).summary.zones


def _count(zone: str, free: int = 0, occupied: int = 0, unknown: int = 0, closed: int = 0) -> ZoneSummary:
    total = free + occupied + unknown + closed
    return ZoneSummary(zone=zone, free=free, occupied=occupied, unknown=unknown, closed=closed, total=total)


def test_zone_counts_tally_each_status_per_zone(site: Site) -> None:
    states = [_state("P1"), _state("P2", BayStatus.OCCUPIED), _state("P4", BayStatus.CLOSED)]
    assert _zones(site, states) == [
        _count("Markt", free=1, occupied=1, unknown=1),
        _count("Nord", unknown=1, closed=1),
    ]


def test_zone_counts_count_silent_sensors_as_unknown(site: Site) -> None:
    counts = _zones(site, [_state("P1", seen=NOW - 2 * HOUR)], stale=HOUR)
    assert (counts[0].free, counts[0].unknown) == (0, 3)


def test_zone_counts_cover_every_bay_of_the_town_centre() -> None:
    town = load_site(PACKAGED_SITES_DIR / "town-centre.geojson")
    counts = _zones(town, [])
    assert sum(count.total for count in counts) == len(town.bays) == 720
    assert [count.zone for count in counts] == sorted(count.zone for count in counts)


def test_sign_shows_free_bays_per_zone_in_german(site: Site) -> None:
    counts = _zones(site, [_state("P1"), _state("P2"), _state("P4")])
    assert sign_text(site, counts) == "Markt  2 frei\nNord   1 frei"


def test_sign_shows_besetzt_for_a_zone_without_free_bays(site: Site) -> None:
    occupied = {"P4": _state("P4", BayStatus.OCCUPIED), "P5": _state("P5", BayStatus.OCCUPIED)}
    assert sign_text(site, _zones(site, _all(site) | occupied)).splitlines()[1] == "Nord   besetzt"


def test_sign_speaks_english_on_request(site: Site) -> None:
    counts = _zones(site, [_state("P1"), _state("P4", BayStatus.OCCUPIED)])
    assert sign_text(site, counts, lang="en") == "Markt  1 free\nNord     full"


def test_sign_shows_a_zone_of_closed_bays_as_closed(site: Site) -> None:
    counts = _zones(site, [_state("P4", BayStatus.CLOSED), _state("P5", BayStatus.CLOSED)])
    assert sign_text(site, counts).splitlines()[1].endswith("geschlossen")


def test_sign_does_not_claim_full_when_no_sensor_reports(site: Site) -> None:
    counts = _zones(site, [])
    assert [line.split()[-1] for line in sign_text(site, counts).splitlines()] == ["---", "---"]


def test_sign_aligns_zone_names_and_counts(site: Site) -> None:
    counts = [_count("Innenstadt", free=12), _count("Markt", free=3)]
    assert sign_text(site, counts) == "Innenstadt  12 frei\nMarkt        3 frei"


def test_sign_can_start_with_the_site_name(site: Site) -> None:
    assert sign_text(site, _zones(site, [_state("P1")]), title=True).splitlines()[0] == "Marktstraße"


def test_sign_refuses_an_unknown_language(site: Site) -> None:
    with pytest.raises(ValueError, match="language"):
        sign_text(site, _zones(site, []), lang="fr")  # type: ignore[arg-type]
