"""Errors as JSON: each ``PlaitError`` kind maps to one HTTP status, and no request that
plait can name the fault of ends as a 500.

    NotFoundError   404        RunStateError   409
    SpecError       422        ParamsError     400
    UsageError      400        StoreError      503
    other PlaitError 400       invalid request 422 (body, query or path that does not parse)
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from plait.errors import (
    InvalidParamsError,
    NotFoundError,
    ParamsError,
    PlaitError,
    Problem,
    RunStateError,
    SpecError,
    StoreError,
    UsageError,
)

__all__ = [
    "COMMON_ERRORS",
    "ApiError",
    "ErrorBody",
    "error_response",
    "errors",
    "install_error_handlers",
    "problem_json",
]

_STATUS: tuple[tuple[type[PlaitError], int], ...] = (
    (NotFoundError, 404),
    (RunStateError, 409),
    (SpecError, 422),
    (InvalidParamsError, 422),
    (ParamsError, 400),
    (UsageError, 400),
    (StoreError, 503),
)


class ProblemBody(BaseModel):
    file: str
    line: int | None
    field: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str = Field(description="what went wrong, for a person")
    problems: list[ProblemBody] | None = Field(
        default=None, description="a workflow's problems, each with its file and line"
    )
    details: list[dict[str, str]] | None = Field(
        default=None, description="which part of the request is invalid, and why"
    )


_MEANING = {
    400: "a request that cannot be understood (unknown status, malformed params, ...)",
    401: "authentication is required (the server has credentials set)",
    403: "no X-Plait-Request header on a state change, or a Host that is not local",
    404: "no such workflow, run, step or log",
    409: "the state of the run does not allow it",
    413: "the request body is larger than server.maxRequestSize",
    422: "an invalid request, workflow or param (each problem named)",
    429: "too many calls; `Retry-After` says when to try again",
    503: "the store cannot be reached",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of these error codes."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in codes}


# What any route may answer: the guard (401, 403), invalid input (422), the store (503).
COMMON_ERRORS = errors(401, 403, 422, 503)


class ApiError(PlaitError):
    """A request the API refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def status_of(error: PlaitError) -> int:
    if isinstance(error, ApiError):
        return error.status
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 400


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "field": problem.field,
        "message": problem.message,
    }


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _plait_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PlaitError)
    extra: dict[str, Any] = {}
    if isinstance(error, SpecError):
        extra["problems"] = [problem_json(p) for p in error.problems]
    response = error_response(status_of(error), error.message, **extra)
    if isinstance(error, ApiError) and error.headers:
        response.headers.update(error.headers)
    return response


def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = [
        {
            "where": ".".join(str(part) for part in item.get("loc", ())),
            "message": str(item.get("msg", "")),
        }
        for item in error.errors()
    ]
    summary = "; ".join(f"{d['where']}: {d['message']}" for d in details) or "invalid request"
    return error_response(422, f"invalid request: {summary}", details=details)


def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers) if error.headers else None
    response = error_response(error.status_code, str(error.detail))
    if headers:
        response.headers.update(headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PlaitError, _plait_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
