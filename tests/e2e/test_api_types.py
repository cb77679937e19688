"""The web UI's API types (``ui/src/api-types.ts``) are those of the server's OpenAPI document
now: the committed file is what ``scripts/api-types.sh`` writes (openapi-typescript, from
ui/'s devDependencies, on the document of ``scripts/openapi.py``)."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

COMMITTED = ROOT / "ui" / "src" / "api-types.ts"
GENERATOR = ROOT / "ui" / "node_modules" / ".bin" / "openapi-typescript"


def test_the_committed_api_types_match_the_servers_openapi_document(tmp_path: Path) -> None:
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} is missing: scripts/setup.sh installs ui/'s dependencies")
    fresh = tmp_path / "api-types.ts"
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "api-types.sh"), str(fresh)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    want, have = fresh.read_text(), COMMITTED.read_text()
    if want != have:
        diff = difflib.unified_diff(
            have.splitlines(), want.splitlines(), "committed", "generated", lineterm="", n=1
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(f"ui/src/api-types.ts is stale: run bash scripts/api-types.sh\n{shown}")
    assert "/api/v1/workflows/{name}/history" in have  # the document is the server's own
