"""Planning: which steps wait for which, checked for cycles."""

from plait.graph.deps import effective_depends, find_cycle

__all__ = ["effective_depends", "find_cycle"]
