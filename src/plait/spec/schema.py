"""JSON Schema of the dialect, for editors (yaml-language-server), generated from the tables.

Every field is listed in each of its spellings (camelCase, snake_case, aliases) with its type
and a one-line description; unknown keys are refused, as the loader refuses them.
"""

from __future__ import annotations

from plait.spec._kinds import Table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["json_schema", "table_schema"]

_DRAFT = "http://json-schema.org/draft-07/schema#"


def json_schema() -> dict[str, object]:
    """The JSON Schema (draft-07) of one workflow document."""
    from plait.spec.fields import WORKFLOW

    definitions: dict[str, Any] = {}
    body = _table_body(WORKFLOW, definitions)
    return {
        "$schema": _DRAFT,
        "$id": "https://plait.dev/schemas/workflow.json",
        "title": "plait workflow",
        "description": "A plait (Dagu 1.x dialect) workflow: params, schedule and steps.",
        **body,
        "definitions": definitions,
    }


def table_schema(table: Table, definitions: dict[str, Any]) -> dict[str, Any]:
    """A ``$ref`` to the table's schema, added to ``definitions`` the first time it is met."""
    if table.name not in definitions:
        definitions[table.name] = {}  # placeholder: tables may refer to themselves
        definitions[table.name] = _table_body(table, definitions)
    return {"$ref": f"#/definitions/{table.name}"}


def _table_body(table: Table, definitions: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in table.fields:
        kind_schema = field.kind.schema(definitions)
        if "$ref" in kind_schema:
            kind_schema = {"allOf": [kind_schema]}
        described = {**kind_schema, "description": field.description}
        for spelling in field.spellings:
            properties[spelling] = described
        if field.required:
            required.append(field.name)
    body: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        body["required"] = required
    body["additionalProperties"] = False
    return body
