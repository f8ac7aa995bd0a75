"""If-None-Match against the ETag of the current state (RFC 9110 weak comparison)."""

from __future__ import annotations

import pytest

from api.routes.sites import etag_matches

TAG = '"ab12-7"'


@pytest.mark.parametrize(
    "header",
    ['"ab12-7"', 'W/"ab12-7"', '"other", "ab12-7"', " *", '"x",W/"ab12-7" '],
)
def test_a_header_naming_the_current_tag_matches(header: str) -> None:
    assert etag_matches(header, TAG)


@pytest.mark.parametrize("header", [None, "", '"ab12-6"', "ab12-7", '"ab12-70"'])
def test_a_header_without_the_current_tag_does_not_match(header: str | None) -> None:
    assert not etag_matches(header, TAG)
