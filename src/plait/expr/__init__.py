"""Value resolution: ``${VAR}``, ``$VAR``, JSON paths, step references and backticks.

Pure functions: nothing here starts a process. Backtick substitution takes a runner from the
caller.
"""

from plait.expr.expand import (
    StepRef,
    eval_pairs,
    expand,
    json_path,
    parse_json_value,
    render,
    substitute_backticks,
)

__all__ = [
    "StepRef",
    "eval_pairs",
    "expand",
    "json_path",
    "parse_json_value",
    "render",
    "substitute_backticks",
]
