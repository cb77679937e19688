"""The one exception tree of plait.

Every error a user can meet is a ``PlaitError``; it knows its message and the exit code the
CLI uses for it. Errors from libraries are translated into these at the layer that calls them.

    PlaitError                      exit 1
    ├── SpecError                   a workflow file has problems (each with file, line, field)
    ├── NotFoundError               a workflow, run, step or child workflow that does not exist
    ├── ParamsError                 malformed params given on the command line or API
    ├── RunStateError               an action that the run's state does not allow
    ├── StoreError                  the store cannot be used: unreachable, full, newer
    │   └── StoreUnavailable        it cannot be reached now (it may come back)
    └── UsageError                  a command line that cannot be understood        exit 2
"""

from __future__ import annotations

__all__ = [
    "InvalidParamsError",
    "NotFoundError",
    "ParamsError",
    "PlaitError",
    "Problem",
    "RunStateError",
    "SpecError",
    "StoreError",
    "StoreUnavailable",
    "UsageError",
]


class PlaitError(Exception):
    """Base of every error plait reports to a person."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Problem:
    """One thing wrong in a workflow file, located as precisely as the loader knows."""

    __slots__ = ("field", "file", "line", "message")

    def __init__(
        self,
        file: str,
        line: int | None,
        field: str,
        message: str,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class SpecError(PlaitError):
    """A workflow file that cannot be loaded; carries every problem found in it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


class NotFoundError(PlaitError):
    """A workflow, run, step or child workflow that does not exist."""


class ParamsError(PlaitError):
    """Params that cannot be parsed."""


class InvalidParamsError(ParamsError):
    """Params that do not fit what the workflow declares: a required param without a value,
    a value of the wrong type or not among its choices (each named)."""


class RunStateError(PlaitError):
    """An action that the state of a run does not allow (retry a running run, ...)."""


class StoreError(PlaitError):
    """The store cannot be used: it cannot be opened or reached, the disk is full, its file
    is gone, or it was written by a newer plait."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now (a database server down or restarting): an agent
    waits for it a while, anything else says so at once."""


class UsageError(PlaitError):
    """A command line that cannot be understood."""

    exit_code = 2
