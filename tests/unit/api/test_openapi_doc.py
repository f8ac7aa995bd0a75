"""The OpenAPI document: every route listed and described, parameters with examples, errors as sent."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from fastapi.routing import APIRoute

import api.routes
from api.app import create_app
from api.settings import ApiSettings

METHODS = {"get", "post", "put", "patch", "delete"}


def document(**settings: Any) -> dict[str, Any]:
    doc: dict[str, Any] = create_app(ApiSettings(**settings)).openapi()
    return doc


def declared_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every documented route of every router module in api/routes."""
    found = set()
    for info in pkgutil.iter_modules(api.routes.__path__):
        router = getattr(importlib.import_module(f"api.routes.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if isinstance(route, APIRoute) and route.include_in_schema:
                found |= {(method, route.path) for method in route.methods or ()}
    return found


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def test_every_api_route_is_listed_with_a_summary_and_a_description() -> None:
    ops = operations(document())
    routes = {r for r in declared_routes() if r[1].startswith("/api/v1/")}
    assert len(routes) >= 20
    assert routes <= set(ops), f"routes missing from the document: {sorted(routes - set(ops))}"
    for key in routes:
        assert ops[key].get("summary"), key
        assert len(ops[key].get("description", "")) >= 20, key


def test_every_parameter_is_described_with_an_example() -> None:
    for key, op in operations(document()).items():
        for param in op.get("parameters", []):
            where = f"{key} {param['in']}.{param['name']}"
            assert param.get("description"), where
            examples = param.get("examples") or param.get("example") or param["schema"].get("examples")
            assert examples, where


def test_response_models_carry_an_example() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    for key, op in operations(doc).items():
        for code, response in op["responses"].items():
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
            if ref:
                name = ref.rsplit("/", 1)[-1]
                assert "example" in schemas[name] or "examples" in schemas[name], f"{key} {code}: {name}"


def test_errors_are_documented_as_the_api_sends_them() -> None:
    doc = document()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for key, op in operations(doc).items():
        for code, response in op["responses"].items():
            if code.startswith(("4", "5")) and "content" in response:
                assert list(response["content"]) == ["application/json"], (key, code)
        if "422" in op["responses"]:
            schema = op["responses"]["422"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ValidationProblem"}, key
    detail = doc["components"]["schemas"]["ValidationProblem"]["properties"]["detail"]
    assert detail["type"] == "string"


@pytest.mark.parametrize("private_reads", [False, True])
def test_the_token_is_required_where_the_document_says(private_reads: bool) -> None:
    ops = operations(document(api_private_reads=private_reads))
    control = [("POST", "/api/v1/simulator"), ("POST", "/api/v1/sites/{site}/rollup")]
    for key in control:
        assert ops[key]["security"] == [{"ApiToken": []}], key
        assert "401" in ops[key]["responses"], key
    read = ops[("GET", "/api/v1/sites/{site}/occupancy")]
    if private_reads:
        assert read["security"] == [{"ReadToken": []}] and "401" in read["responses"]
    else:
        assert "security" not in read and "401" not in read["responses"]
    assert "security" not in ops[("GET", "/healthz")]
