"""Guidance to a free bay with soft reservations, zone counts and sign texts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from api.guidance import Guide, ZoneCount, distance_m, sign_text, site_destination, zone_counts
from parking.events import BayStatus
from parking.registry import Site, load_site, parse_site
from parking.settings import PACKAGED_SITES_DIR
from parking.state import BayState

REPO = Path(__file__).resolve().parents[2]
NOW = 1_763_719_200_000_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

# The destination sits at the west end of a street; bay n is n * 10 m or so further east.
DEST = (9.37, 53.92)
STEP = 0.00015  # degrees of longitude, about 10 m at this latitude


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


@pytest.fixture
def site() -> Site:
    return _site()


@pytest.fixture
def guide() -> Guide:
    return Guide()


# --- choosing a bay --------------------------------------------------------------------------


def test_suggests_the_free_bay_nearest_to_the_destination(site: Site, guide: Guide) -> None:
    states = _all(site) | {"P1": _state("P1", BayStatus.OCCUPIED)}
    guidance = guide.suggest(site, states, *DEST, NOW)
    assert guidance is not None
    assert guidance.bay.bay == "P2"


def test_reports_the_walking_distance_in_metres(site: Site, guide: Guide) -> None:
    guidance = guide.suggest(site, _all(site), *DEST, NOW)
    assert guidance is not None
    assert guidance.bay.distance_m == pytest.approx(
        STEP * 111_195 * math.cos(math.radians(DEST[1])), rel=1e-3
    )


def test_distance_is_great_circle_metres() -> None:
    assert distance_m(9.0, 53.0, 9.0, 54.0) == pytest.approx(111_195, rel=1e-4)


def test_equally_distant_bays_are_chosen_by_bay_id(guide: Guide) -> None:
    site = _site(bays=(("Z9", "Markt", 1), ("B2", "Markt", -1), ("C3", "Markt", 1)))
    guidance = guide.suggest(site, _all(site), *DEST, NOW)
    assert guidance is not None
    assert guidance.bay.bay == "B2"


def test_accepts_the_states_as_an_iterable_as_well_as_a_mapping(site: Site) -> None:
    states = _all(site) | {"P1": _state("P1", BayStatus.OCCUPIED)}
    from_mapping = Guide().suggest(site, states, *DEST, NOW)
    from_iterable = Guide().suggest(site, list(states.values()), *DEST, NOW)
    assert from_mapping == from_iterable


def test_nothing_free_gives_no_guidance(site: Site, guide: Guide) -> None:
    assert guide.suggest(site, _all(site, BayStatus.OCCUPIED), *DEST, NOW) is None


def test_unknown_bays_are_never_suggested(site: Site, guide: Guide) -> None:
    states = _all(site, BayStatus.UNKNOWN) | {"P5": _state("P5")}
    guidance = guide.suggest(site, states, *DEST, NOW)
    assert guidance is not None
    assert guidance.bay.bay == "P5"
    assert guidance.alternatives == ()


def test_bays_without_any_state_are_never_suggested(site: Site, guide: Guide) -> None:
    assert guide.suggest(site, [], *DEST, NOW) is None


def test_closed_bays_are_never_suggested(site: Site, guide: Guide) -> None:
    assert guide.suggest(site, _all(site, BayStatus.CLOSED), *DEST, NOW) is None


def test_a_bay_whose_sensor_went_silent_is_not_suggested(site: Site) -> None:
    guide = Guide(stale_after_ns=HOUR)
    states = _all(site) | {"P1": _state("P1", seen=NOW - 2 * HOUR)}
    guidance = guide.suggest(site, states, *DEST, NOW)
    assert guidance is not None
    assert guidance.bay.bay == "P2"


def test_alternatives_are_the_next_nearest_free_bays_in_order(site: Site, guide: Guide) -> None:
    states = _all(site) | {"P2": _state("P2", BayStatus.OCCUPIED)}
    guidance = guide.suggest(site, states, *DEST, NOW, alternatives=2)
    assert guidance is not None
    assert [option.bay for option in guidance.alternatives] == ["P3", "P4"]
    distances = [guidance.bay.distance_m, *(option.distance_m for option in guidance.alternatives)]
    assert distances == sorted(distances)


def test_no_alternatives_when_none_are_asked_for(site: Site, guide: Guide) -> None:
    guidance = guide.suggest(site, _all(site), *DEST, NOW, alternatives=0)
    assert guidance is not None
    assert guidance.alternatives == ()


def test_an_invalid_destination_is_refused(site: Site, guide: Guide) -> None:
    with pytest.raises(ValueError, match="destination"):
        guide.suggest(site, _all(site), 200.0, 53.0, NOW)
    with pytest.raises(ValueError, match="destination"):
        guide.suggest(site, _all(site), math.nan, 53.0, NOW)


# --- soft reservations -----------------------------------------------------------------------


def test_two_requests_never_get_the_same_bay_while_it_is_reserved(site: Site, guide: Guide) -> None:
    first = guide.suggest(site, _all(site), *DEST, NOW)
    second = guide.suggest(site, _all(site), *DEST, NOW + SECOND)
    assert first is not None
    assert second is not None
    assert (first.bay.bay, second.bay.bay) == ("P1", "P2")


def test_every_request_gets_its_own_bay_until_none_is_left(site: Site, guide: Guide) -> None:
    chosen = []
    for i in range(len(site.bays)):
        guidance = guide.suggest(site, _all(site), *DEST, NOW + i * SECOND)
        assert guidance is not None
        chosen.append(guidance.bay.bay)
    assert chosen == ["P1", "P2", "P3", "P4", "P5"]
    assert guide.suggest(site, _all(site), *DEST, NOW + 10 * SECOND) is None


def test_reserved_bays_are_not_offered_as_alternatives(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW)
    guidance = guide.suggest(site, _all(site), *DEST, NOW, alternatives=3)
    assert guidance is not None
    assert "P1" not in [option.bay for option in guidance.alternatives]


def test_alternatives_are_not_reserved(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW, alternatives=3)
    assert guide.reservations(site.id, NOW) == {"P1": NOW + 120 * SECOND}


def test_a_reservation_holds_until_its_hold_time_runs_out(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW, hold_s=60)
    still_held = guide.suggest(site, _all(site), *DEST, NOW + 60 * SECOND - 1)
    assert still_held is not None
    assert still_held.bay.bay == "P2"


def test_an_expired_reservation_frees_the_bay_for_the_next_driver(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW, hold_s=60)
    guidance = guide.suggest(site, _all(site), *DEST, NOW + 60 * SECOND)
    assert guidance is not None
    assert guidance.bay.bay == "P1"


def test_the_guidance_says_until_when_the_bay_is_held(site: Site, guide: Guide) -> None:
    guidance = guide.suggest(site, _all(site), *DEST, NOW, hold_s=90)
    assert guidance is not None
    assert guidance.reserved_until_ns == NOW + 90 * SECOND


def test_a_reservation_ends_when_the_bay_is_seen_occupied(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW)
    guide.suggest(site, _all(site) | {"P1": _state("P1", BayStatus.OCCUPIED)}, *DEST, NOW + SECOND)
    assert "P1" not in guide.reservations(site.id, NOW + SECOND)
    # The car left again within the original hold: the bay is offered again at once.
    guidance = guide.suggest(site, {"P1": _state("P1")}, *DEST, NOW + 2 * SECOND)
    assert guidance is not None
    assert guidance.bay.bay == "P1"


def test_a_bay_whose_state_is_unknown_stays_reserved(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW)
    guide.suggest(site, {"P1": _state("P1", BayStatus.UNKNOWN)}, *DEST, NOW + SECOND)
    assert "P1" in guide.reservations(site.id, NOW + SECOND)


def test_a_zero_hold_reserves_nothing(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW, hold_s=0)
    assert guide.reservations(site.id, NOW) == {}
    assert len(guide) == 0


def test_a_released_reservation_makes_the_bay_available_again(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW)
    assert guide.release(site.id, "P1") is True
    assert guide.release(site.id, "P1") is False
    guidance = guide.suggest(site, _all(site), *DEST, NOW + SECOND)
    assert guidance is not None
    assert guidance.bay.bay == "P1"


def test_reservations_belong_to_one_site(site: Site, guide: Guide) -> None:
    other = _site("other")
    guide.suggest(site, _all(site), *DEST, NOW)
    guidance = guide.suggest(other, _all(other), *DEST, NOW)
    assert guidance is not None
    assert guidance.bay.bay == "P1"


def test_expired_reservations_are_purged(site: Site, guide: Guide) -> None:
    guide.suggest(site, _all(site), *DEST, NOW, hold_s=10)
    guide.suggest(site, _all(site), *DEST, NOW, hold_s=10)
    assert guide.purge(NOW + 10 * SECOND) == 2
    assert len(guide) == 0


def test_memory_stays_bounded_by_the_number_of_bays(site: Site, guide: Guide) -> None:
    for i in range(1000):
        guide.suggest(site, _all(site), *DEST, NOW + i * SECOND, hold_s=30)
        assert len(guide) <= len(site.bays)


def test_a_negative_hold_or_alternatives_count_is_refused(site: Site, guide: Guide) -> None:
    with pytest.raises(ValueError, match="hold_s"):
        guide.suggest(site, _all(site), *DEST, NOW, hold_s=-1)
    with pytest.raises(ValueError, match="alternatives"):
        guide.suggest(site, _all(site), *DEST, NOW, alternatives=-1)


def test_guidance_as_a_message_is_plain_json(site: Site, guide: Guide) -> None:
    guidance = guide.suggest(site, _all(site), *DEST, NOW, alternatives=1)
    assert guidance is not None
    message = guidance.as_message()
    assert json.loads(json.dumps(message)) == message
    assert message["site"] == "street"
    assert message["bay"] == "P1"
    assert message["reserved_until"] == "2025-11-21T10:02:00.000Z"
    assert [option["bay"] for option in message["alternatives"]] == ["P2"]


# --- destinations ----------------------------------------------------------------------------


def test_the_showroom_destination_comes_from_its_site_file() -> None:
    showroom = load_site(PACKAGED_SITES_DIR / "showroom.geojson")
    assert site_destination(showroom) == (9.3684746, 53.9195508)  # the middle of its town face


def test_a_site_without_a_destination_uses_the_centre_of_its_bays(site: Site) -> None:
    assert site_destination(site) == site.center


def test_the_showroom_guides_to_a_bay_nearest_its_destination() -> None:
    showroom = load_site(PACKAGED_SITES_DIR / "showroom.geojson")
    states = [BayState("showroom", bay, BayStatus.FREE, NOW, NOW) for bay in showroom.bays]
    guidance = Guide().suggest(showroom, states, *site_destination(showroom), NOW)
    assert guidance is not None
    nearest = min(
        showroom.bays.values(),
        key=lambda b: (round(distance_m(b.lon, b.lat, *site_destination(showroom)), 3), b.id),
    )
    assert guidance.bay.bay == nearest.id


# --- zone counts -----------------------------------------------------------------------------


def test_zone_counts_tally_each_status_per_zone(site: Site) -> None:
    states = [_state("P1"), _state("P2", BayStatus.OCCUPIED), _state("P4", BayStatus.CLOSED)]
    assert zone_counts(site, states) == [
        {"zone": "Markt", "free": 1, "occupied": 1, "unknown": 1, "closed": 0, "total": 3},
        {"zone": "Nord", "free": 0, "occupied": 0, "unknown": 1, "closed": 1, "total": 2},
    ]


def test_zone_counts_count_silent_sensors_as_unknown(site: Site) -> None:
    states = [_state("P1", seen=NOW - 2 * HOUR)]
    counts = zone_counts(site, states, now_ns=NOW, stale_after_ns=HOUR)
    assert (counts[0]["free"], counts[0]["unknown"]) == (0, 3)


def test_zone_counts_cover_every_bay_of_the_town_centre() -> None:
    town = load_site(PACKAGED_SITES_DIR / "town-centre.geojson")
    counts = zone_counts(town, [])
    assert sum(count["total"] for count in counts) == len(town.bays) == 720
    assert [count["zone"] for count in counts] == sorted(count["zone"] for count in counts)


# --- sign texts ------------------------------------------------------------------------------


def _count(zone: str, free: int = 0, occupied: int = 0, unknown: int = 0, closed: int = 0) -> ZoneCount:
    total = free + occupied + unknown + closed
    return ZoneCount(zone=zone, free=free, occupied=occupied, unknown=unknown, closed=closed, total=total)


def test_sign_shows_free_bays_per_zone_in_german(site: Site) -> None:
    counts = zone_counts(site, [_state("P1"), _state("P2"), _state("P4")])
    assert sign_text(site, counts) == "Markt  2 frei\nNord   1 frei"


def test_sign_shows_besetzt_for_a_zone_without_free_bays(site: Site) -> None:
    counts = zone_counts(
        site, _all(site) | {"P4": _state("P4", BayStatus.OCCUPIED), "P5": _state("P5", BayStatus.OCCUPIED)}
    )
    assert sign_text(site, counts).splitlines()[1] == "Nord   besetzt"


def test_sign_speaks_english_on_request(site: Site) -> None:
    counts = zone_counts(site, [_state("P1"), _state("P4", BayStatus.OCCUPIED)])
    assert sign_text(site, counts, lang="en") == "Markt  1 free\nNord     full"


def test_sign_shows_a_zone_of_closed_bays_as_closed(site: Site) -> None:
    counts = zone_counts(site, [_state("P4", BayStatus.CLOSED), _state("P5", BayStatus.CLOSED)])
    assert sign_text(site, counts).splitlines()[1].endswith("geschlossen")


def test_sign_does_not_claim_full_when_no_sensor_reports(site: Site) -> None:
    counts = zone_counts(site, [])
    assert [line.split()[-1] for line in sign_text(site, counts).splitlines()] == ["---", "---"]


def test_sign_aligns_zone_names_and_counts(site: Site) -> None:
    counts = [_count("Innenstadt", free=12), _count("Markt", free=3)]
    assert sign_text(site, counts) == "Innenstadt  12 frei\nMarkt        3 frei"


def test_sign_can_start_with_the_site_name(site: Site) -> None:
    counts = zone_counts(site, [_state("P1")])
    assert sign_text(site, counts, title=True).splitlines()[0] == "Marktstraße"


def test_sign_refuses_an_unknown_language(site: Site) -> None:
    with pytest.raises(ValueError, match="language"):
        sign_text(site, zone_counts(site, []), lang="fr")  # type: ignore[arg-type]


def test_suggesting_among_precomputed_statuses_matches_suggesting_from_states(site: Site) -> None:
    states = _all(site) | {"P1": _state("P1", BayStatus.OCCUPIED)}
    statuses = {bay: state.status for bay, state in states.items()}
    free = np.array([statuses[bay] is BayStatus.FREE for bay in site.bays])
    among = Guide().suggest_among(site, statuses, free, *DEST, NOW)
    direct = Guide().suggest(site, states, *DEST, NOW)
    assert among is not None
    assert among == direct


def test_a_free_mask_of_the_wrong_length_is_refused(site: Site) -> None:
    with pytest.raises(ValueError, match="one entry per bay"):
        Guide().suggest_among(site, {}, np.zeros(2, dtype=bool), *DEST, NOW)
