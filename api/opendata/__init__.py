"""Open-data exports of the current bay states (FIWARE NGSI-LD, ParkAPI v3, DATEX II light) and history CSV.

Pure builders: they take a site and its bay states as the API shows them (``api.current``: a
sensor silent too long is unknown already) and return JSON-ready dicts or text. A bay that is
unknown is exported as unknown in every format, never as free.
"""

from api.opendata.datex2 import datex2_publication, datex2_site_publication
from api.opendata.fiware import (
    CONTEXT,
    fiware_entities,
    fiware_on_street_parking,
    fiware_parking_spots,
    on_street_parking_id,
    parking_spot_id,
)
from api.opendata.history_csv import HISTORY_CSV_MEDIA_TYPE, history_csv
from api.opendata.parkapi import parkapi_list, parkapi_parking_site, parkapi_parking_spots
from api.opendata.snapshot import BayView, States, StatusCounts, bay_views

__all__ = [
    "CONTEXT",
    "HISTORY_CSV_MEDIA_TYPE",
    "BayView",
    "States",
    "StatusCounts",
    "bay_views",
    "datex2_publication",
    "datex2_site_publication",
    "fiware_entities",
    "fiware_on_street_parking",
    "fiware_parking_spots",
    "history_csv",
    "on_street_parking_id",
    "parkapi_list",
    "parkapi_parking_site",
    "parkapi_parking_spots",
    "parking_spot_id",
]
