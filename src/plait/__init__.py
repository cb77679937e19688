"""plait: a workflow engine. YAML workflows of shell steps and child workflows.

Embedding::

    import plait
    record = plait.run("pipeline.yaml", params={"DATE": "2026-01-01"})
    print(record.status, record.outputs)
"""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from plait.model import RunRecord, Workflow

__all__ = ["__version__", "load", "run"]

__version__ = "0.1.0"


def load(path_or_yaml_text: str) -> Workflow:
    """Load and validate a workflow from a file path or from YAML text."""
    import os

    from plait.spec import load_file, load_text

    if "\n" not in path_or_yaml_text and os.path.exists(path_or_yaml_text):
        return load_file(path_or_yaml_text)
    return load_text(path_or_yaml_text)


def run(
    path_or_yaml_text: str,
    params: Mapping[str, str] | str | None = None,
    *,
    run_id: str | None = None,
) -> RunRecord:
    """Run a workflow to its end in this process and return its record."""
    from plait.app import start_run
    from plait.model import Param
    from plait.spec import parse_params
    from plait.store import Home

    if isinstance(params, str):
        given = parse_params(params)
    else:
        given = tuple(Param(k, str(v)) for k, v in (params or {}).items())
    return start_run(
        load(path_or_yaml_text),
        home=Home.from_env(),
        params=given,
        run_id=run_id,
        handle_signals=False,
    )
