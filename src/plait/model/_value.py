"""The base of the model's value objects: equality, hash, repr and ``replace`` from
``__slots__``. Plain classes rather than dataclasses: the start path of ``plait start`` cannot
afford the import and class-creation cost of dataclasses."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Self

__all__ = ["Value"]


class Value:
    """Compared and shown by the fields named in ``__slots__``; treated as immutable."""

    __slots__: tuple[str, ...] = ()
    _hidden: tuple[str, ...] = ()  # fields left out of equality and repr

    def _values(self) -> tuple[Any, ...]:
        cls = type(self)
        return tuple(getattr(self, name) for name in cls.__slots__ if name not in cls._hidden)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Value)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        cls = type(self)
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in cls.__slots__ if name not in cls._hidden
        )
        return f"{cls.__name__}({shown})"

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed."""
        values = {name: getattr(self, name) for name in type(self).__slots__}
        values.update(changes)
        return type(self)(**values)
