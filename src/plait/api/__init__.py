"""REST API and web UI server (FastAPI): workflows, runs, logs, queues, live events.

Imported only by ``plait server``: the ``start`` path never loads a web framework.
"""

from __future__ import annotations

from plait.api.security import Auth
from plait.api.server import create_app, serve

__all__ = ["Auth", "create_app", "serve"]
