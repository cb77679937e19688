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
from starlette.exceptions import HTTPException

from plait.errors import (
    NotFoundError,
    ParamsError,
    PlaitError,
    Problem,
    RunStateError,
    SpecError,
    StoreError,
    UsageError,
)

__all__ = ["ApiError", "error_response", "install_error_handlers", "problem_json"]

_STATUS: tuple[tuple[type[PlaitError], int], ...] = (
    (NotFoundError, 404),
    (RunStateError, 409),
    (SpecError, 422),
    (ParamsError, 400),
    (UsageError, 400),
    (StoreError, 503),
)


class ApiError(PlaitError):
    """A request the API refuses, with the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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
    return error_response(status_of(error), error.message, **extra)


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
