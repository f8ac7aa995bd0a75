"""Line protocol: escaping, field types, and the points a reading becomes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parking.events import BayReading, SensorHealth
from parking.lineprotocol import escape_tag, format_field, influxql_string, point, reading_lines


def unescape_tag(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


@given(st.text(alphabet=st.characters(exclude_characters="\n\r", codec="utf-8")))
def test_tag_escaping_round_trips(value: str) -> None:
    assert unescape_tag(escape_tag(value)) == value


def test_occupancy_is_an_integer_field_so_mean_is_the_rate() -> None:
    reading = BayReading("showroom", "A01", True, 1_700_000_000_123_456_789)
    assert reading_lines(reading) == ["bay_status,bay=A01,site=showroom occupied=1i 1700000000123456789"]


def test_health_goes_to_its_own_measurement_as_floats() -> None:
    reading = BayReading("s", "b", None, 5, SensorHealth(battery_v=3.6, rssi=-97))
    assert reading_lines(reading) == ["sensor_health,bay=b,site=s battery_v=3.6,rssi=-97.0 5"]


def test_special_characters_are_escaped() -> None:
    assert point("m x", {"a b": "c,d=e"}, {"f": 'say "hi"'}, 1) == 'm\\ x,a\\ b=c\\,d\\=e f="say \\"hi\\"" 1'


def test_non_finite_floats_are_refused() -> None:
    with pytest.raises(ValueError, match="nan"):
        format_field(float("nan"))


def test_influxql_strings_escape_quotes() -> None:
    assert influxql_string("it's") == "'it\\'s'"
