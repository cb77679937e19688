"""Persistence of runs, steps and the tree of child runs; step logs live as files beside it."""

from plait.store.home import Home
from plait.store.sqlite import SQLiteStore

__all__ = ["Home", "SQLiteStore"]
