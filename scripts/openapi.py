"""Writes the OpenAPI document of plait's server as JSON, for the web UI's generated types.

python scripts/openapi.py OUT.json  (scripts/api-types.sh runs it, then openapi-typescript)

The document is the server's own (``app.openapi()``), built on a throwaway home with the
embedded store, so no configured database is touched.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def openapi_document() -> dict[str, object]:
    """The server's OpenAPI document, as ``GET /api/openapi.json`` answers it."""
    os.environ.pop("PLAIT_DATABASE_URL", None)
    from plait.api.server import create_app
    from plait.store import Home

    with tempfile.TemporaryDirectory(prefix="plait-openapi-") as tmp:
        home = Home(root=Path(tmp) / "home", dags_dir=Path(tmp) / "dags")
        app = create_app(home)
        try:
            return app.openapi()
        finally:
            app.state.services.close()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    document = openapi_document()
    Path(sys.argv[1]).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
