"""Value resolution: ``${VAR}``, ``$VAR``, JSON paths, step references and backticks.

Pure functions: nothing here starts a process. Backtick substitution takes a runner from the
caller. Text a shell will read goes through ``to_shell``: values become shell variables.
"""

from plait.expr.expand import (
    REFERENCE,
    StepRef,
    evaluate,
    expand,
    json_path,
    parse_json_value,
    render,
    resolve_reference,
)
from plait.expr.shell import ShellText, UnsafeValueError, to_shell

__all__ = [
    "REFERENCE",
    "ShellText",
    "StepRef",
    "UnsafeValueError",
    "evaluate",
    "expand",
    "json_path",
    "parse_json_value",
    "render",
    "resolve_reference",
    "to_shell",
]
