"""Resolving ``secrets:`` at run start: each value from its provider, never from the store."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from plait.errors import PlaitError
from plait.model import Secret

__all__ = ["resolve_secrets"]


def resolve_secrets(
    secrets: tuple[Secret, ...], environ: Mapping[str, str], folders: tuple[Path, ...]
) -> dict[str, str]:
    """The value of each secret by its name.

    Args:
        environ: what the ``env`` provider reads (plait's own environment).
        folders: where a relative ``file`` key is looked for, in order.

    Raises:
        PlaitError: a secret that cannot be read, naming it and why (never its value).
    """
    values: dict[str, str] = {}
    for secret in secrets:
        if secret.provider == "env":
            if secret.key not in environ:
                raise PlaitError(
                    f"secret {secret.name}: the environment variable {secret.key} is not set"
                )
            values[secret.name] = environ[secret.key]
        else:
            values[secret.name] = _read_file(secret, folders)
    return values


def _read_file(secret: Secret, folders: tuple[Path, ...]) -> str:
    path = Path(os.path.expanduser(secret.key))
    if not path.is_absolute():
        path = next((f / path for f in folders if (f / path).is_file()), folders[0] / path)
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        raise PlaitError(f"secret {secret.name}: the file {path} does not exist") from None
    except IsADirectoryError:
        raise PlaitError(f"secret {secret.name}: {path} is a folder, not a file") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise PlaitError(f"secret {secret.name}: cannot read {path}: {reason}") from None
