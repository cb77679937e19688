"""The home folder: where workflows, the database and the logs live."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["Home"]


class Home:
    """``$PLAIT_HOME`` (default ``~/.plait``) and the folders in it."""

    __slots__ = ("dags_dir", "root")

    def __init__(
        self,
        root: Path,
        dags_dir: Path,
    ) -> None:
        self.root = root
        self.dags_dir = dags_dir

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Home:
        env = os.environ if environ is None else environ
        root = Path(env.get("PLAIT_HOME") or Path.home() / ".plait").expanduser()
        dags = env.get("PLAIT_DAGS_DIR")
        return cls(root=root, dags_dir=Path(dags).expanduser() if dags else root / "dags")

    @property
    def db_path(self) -> Path:
        return self.root / "plait.db"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def cache_dir(self) -> Path:
        """Compiled workflow files (``plait.spec.compiled``): ``$PLAIT_CACHE_DIR``, else the
        user's cache folder (``$XDG_CACHE_HOME/plait``, ``~/.cache/plait``), shared by every
        home of the user (an entry is named by the file's path and text)."""
        given = os.environ.get("PLAIT_CACHE_DIR")
        if given:
            return Path(given).expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "plait" / "workflows"

    @property
    def base_config(self) -> Path:
        return self.root / "base.yaml"

    @property
    def config_file(self) -> Path:
        return self.root / "config.yaml"
