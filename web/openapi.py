"""The OpenAPI 3.1 document of the API (web/openapi.json) and a page rendering it for people.

The JSON file is the source of truth, checked in tests against the routes
and against real responses. The page is rendered on the server from the same
document: no script, no style attribute, nothing loaded from elsewhere.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

METHODS = ("get", "post", "put", "patch", "delete")


@cache
def document() -> dict[str, Any]:
    """Return the OpenAPI document (read once)."""
    text = resources.files("web").joinpath("openapi.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (#/components/...) to what it names."""
    while "$ref" in node:
        target: Any = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None


def type_segments(schema: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Describe a schema's type as (text, link) pieces: `array of ` + (`Hit`, `#schema-Hit`)."""
    name = schema_name(schema)
    if name:
        return [(name, f"#schema-{name}")]
    if "const" in schema:
        return [(json.dumps(schema["const"]), None)]
    if "anyOf" in schema:
        out: list[tuple[str, str | None]] = []
        for i, option in enumerate(schema["anyOf"]):
            out += ([(" or ", None)] if i else []) + type_segments(option)
        return out
    types = schema.get("type", "any")
    out = []
    for i, t in enumerate(types if isinstance(types, list) else [types]):
        if i:
            out.append((" or ", None))
        if t == "array":
            out += [("array of ", None), *type_segments(schema.get("items", {}))]
        elif t == "object" and isinstance(schema.get("additionalProperties"), dict):
            out += [("map of name to ", None), *type_segments(schema["additionalProperties"])]
        else:
            out.append((t + (f" ({schema['format']})" if "format" in schema else ""), None))
    return out


def constraints(schema: dict[str, Any]) -> str:
    """Describe enum, range and default in words."""
    parts = []
    enum = [v for v in schema.get("enum", []) if v is not None]
    if enum:
        parts.append("one of " + ", ".join(str(v) for v in enum))
    if "minimum" in schema and "maximum" in schema:
        parts.append(f"{schema['minimum']} to {schema['maximum']}")
    elif "minimum" in schema:
        parts.append(f"at least {schema['minimum']}")
    if "default" in schema:
        parts.append(f"default {schema['default']}")
    items = schema.get("items", {})
    if items.get("enum"):
        parts.append("each one of " + ", ".join(items["enum"]))
    return "; ".join(parts)


def operations() -> list[dict[str, Any]]:
    """Return every operation with its parameters and responses resolved, in document order."""
    out = []
    for path, item in document()["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [resolve(p) for p in op.get("parameters", [])]
            responses = []
            for status, resp in op["responses"].items():
                r = resolve(resp)
                content = [(mime, body.get("schema", {})) for mime, body in r.get("content", {}).items()]
                responses.append({"status": status, "description": r.get("description", ""),
                                  "content": content})  # fmt: skip
            out.append({"method": method.upper(), "path": path, "id": op.get("operationId", ""),
                        "summary": op.get("summary", ""), "description": op.get("description", ""),
                        "params": params, "responses": responses})  # fmt: skip
    return out


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(document())


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    doc = document()
    return render_template(
        "api_docs.html",
        info=doc["info"],
        operations=operations(),
        schemas=doc["components"]["schemas"],
        type_segments=type_segments,
        constraints=constraints,
    )
