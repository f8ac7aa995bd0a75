"""The official definitions the open-data exports are checked against, loaded from tests/fixtures/official.

ParkAPI v3: the input models of parkapi-sources 0.38.5 (validataclass), the version park-api-v3 pins.
FIWARE: the Smart Data Models JSON schemas of ParkingSpot and OnStreetParking. Both are copies with
their origin and licence next to them (ORIGIN.md, README.md); nothing is fetched.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import typing_extensions
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from validataclass.exceptions import ValidationError
from validataclass.validators import DataclassValidator

OFFICIAL = Path(__file__).resolve().parent / "fixtures" / "official"
PARKAPI_SOURCES = OFFICIAL / "parkapi-sources-0.38.5"
SMART_DATA_MODELS = OFFICIAL / "smart-data-models"


@cache
def parkapi_models() -> Any:
    """``parkapi_sources.models`` of the kept release (without the package's converter-loading __init__)."""
    if not hasattr(typing, "override"):
        # One validator module uses typing.override (Python 3.12); the same decorator for 3.11.
        setattr(typing, "override", typing_extensions.override)  # noqa: B010
    package = types.ModuleType("parkapi_sources")
    package.__path__ = [str(PARKAPI_SOURCES / "parkapi_sources")]
    sys.modules.setdefault("parkapi_sources", package)
    return importlib.import_module("parkapi_sources.models")


def parkapi_problems(model_name: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """What ParkAPI's ``model_name`` refuses in ``item`` (None: accepted), as ParkAPI reports it."""
    model = getattr(parkapi_models(), model_name)
    try:
        DataclassValidator(model).validate(item)
    except ValidationError as exc:
        problems: dict[str, Any] = exc.to_dict()
        return problems
    return None


@cache
def fiware_validator(entity_type: str) -> Draft202012Validator:
    """A validator of the key-values form of ``entity_type`` (ParkingSpot, OnStreetParking)."""
    common = json.loads((SMART_DATA_MODELS / "common-schema.json").read_text(encoding="utf-8"))
    schema = json.loads((SMART_DATA_MODELS / f"{entity_type}.schema.json").read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(common["$id"], Resource.from_contents(common))
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def fiware_problems(entity: dict[str, Any]) -> list[str]:
    """Where a FIWARE entity (key-values, or normalized turned back) breaks its official schema."""
    values = key_values(entity) if _is_normalized(entity) else entity
    validator = fiware_validator(str(values["type"]))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values)]


def _is_normalized(entity: dict[str, Any]) -> bool:
    return any(isinstance(v, dict) and v.get("type") in _NGSI_LD_KINDS for v in entity.values())


_NGSI_LD_KINDS = {"Property": "value", "GeoProperty": "value", "Relationship": "object"}


def key_values(entity: dict[str, Any]) -> dict[str, Any]:
    """An NGSI-LD normalized entity as key-values: each attribute's ``value`` or ``object``."""
    plain: dict[str, Any] = {}
    for name, attribute in entity.items():
        if isinstance(attribute, dict) and attribute.get("type") in _NGSI_LD_KINDS:
            plain[name] = _literal(attribute[_NGSI_LD_KINDS[attribute["type"]]])
        elif (
            isinstance(attribute, list)
            and attribute
            and all(isinstance(a, dict) and a.get("type") in _NGSI_LD_KINDS for a in attribute)
        ):
            plain[name] = [_literal(a[_NGSI_LD_KINDS[a["type"]]]) for a in attribute]
        else:
            plain[name] = attribute
    return plain


def _literal(value: Any) -> Any:
    """A JSON-LD typed literal such as ``{"@type": "DateTime", "@value": "2025-…Z"}`` as its value."""
    if isinstance(value, dict) and set(value) == {"@type", "@value"}:
        return value["@value"]
    return value
