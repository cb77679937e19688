"""YAML text → the canonical workflow model, strictly: every problem names its file, line, field.

load_file / load_text / load_all   a file's documents as ``Workflow`` objects
parse_params / parse_env           every form of params and env (also for ``--params``)
resolve_child / validate_children  child workflows named by ``run:``
json_schema                        the dialect as JSON Schema, for editors
"""

from __future__ import annotations

from plait.spec.children import resolve_child, validate_children
from plait.spec.loader import load_all, load_base_file, load_file, load_text
from plait.spec.params import parse_env, parse_params, schedule_warnings
from plait.spec.schema import json_schema

__all__ = [
    "json_schema",
    "load_all",
    "load_base_file",
    "load_file",
    "load_text",
    "parse_env",
    "parse_params",
    "resolve_child",
    "schedule_warnings",
    "validate_children",
]
