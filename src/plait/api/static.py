"""The built web UI: files of ``api/static/`` at ``/``, and ``index.html`` for every other
path that is not the API (the UI routes in the browser)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from plait.api.errors import error_response
from plait.api.services import services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_NOT_BUILT = """<!doctype html>
<html><head><meta charset="utf-8"><title>plait</title></head>
<body><h1>plait</h1>
<p>The web UI is not built. Build it from <code>ui/</code> (see the README); the REST API is
at <a href="/api/docs">/api/docs</a>.</p></body></html>
"""


@router.get("/{path:path}")
def ui(path: str, request: Request) -> Response:
    if path == "api" or path.startswith("api/"):
        return error_response(404, f"no API endpoint /{path}")
    root = services_of(request).static_dir
    index = root / "index.html"
    if not index.is_file():
        return HTMLResponse(_NOT_BUILT)
    wanted = _inside(root, path)
    if wanted is not None and wanted.is_file():
        return FileResponse(wanted)
    return FileResponse(index, headers={"Cache-Control": "no-cache"})


def _inside(root: Path, path: str) -> Path | None:
    """``root/path`` if it stays inside ``root``; None for any path that would leave it."""
    base = root.resolve()
    candidate = (base / path).resolve()
    return candidate if candidate.is_relative_to(base) and candidate != base else None
