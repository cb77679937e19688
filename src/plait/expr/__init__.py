"""Value resolution: ``${VAR}``, ``$VAR``, JSON paths, step references and backticks.

Pure functions: nothing here starts a process. Backtick substitution takes a runner from the
caller. Text a shell will read goes through ``to_shell``: values become shell variables.
"""

from plait.expr.expand import (
    REFERENCE,
    JsonText,
    StepRef,
    evaluate,
    expand,
    json_path,
    parse_json_value,
    render,
    resolve_reference,
)
from plait.expr.shell import Resolve, ShellText, UnsafeValueError, plain_argv, to_shell

__all__ = [
    "REFERENCE",
    "JsonText",
    "Resolve",
    "ShellText",
    "StepRef",
    "UnsafeValueError",
    "evaluate",
    "expand",
    "json_path",
    "parse_json_value",
    "plain_argv",
    "render",
    "resolve_reference",
    "to_shell",
]
