"""Persistence of runs, steps and the tree of child runs; step logs live as files beside it."""

from plait.store.home import Home
from plait.store.ids import check_run_id, new_run_id

__all__ = ["Home", "check_run_id", "new_run_id"]
