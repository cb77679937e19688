"""Giving memory the process has freed back to the system (glibc; elsewhere these do nothing).

A fan-out's threads allocate and free the small objects of thousands of items, and its end
handles a result of many megabytes several times over (the text, the store's copies of it).
glibc keeps what was freed for later use: its arenas hold the small blocks, and once a big
block has been freed it raises the size from which blocks are mapped on their own, so the next
big ones come from the heap and stay resident. The RSS then grows with the items and with each
copy of the result, though Python holds little at any moment.

``map_big_blocks()`` fixes that size at 128 KiB (each big block is mapped, and unmapped when
freed); ``release_freed()`` hands the arenas' free pages back (``malloc_trim``).
"""

from __future__ import annotations

import functools

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["map_big_blocks", "release_freed"]

_M_MMAP_THRESHOLD = -3  # mallopt's parameter (malloc.h)
BIG_BLOCK = 128 * 1024


@functools.cache
def _glibc() -> Any:
    """glibc's allocator calls, or None (another C library)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError, ImportError):
        return None
    return libc


@functools.cache
def map_big_blocks() -> None:
    """From now on, blocks of 128 KiB and more are mapped on their own and given back when
    freed (once a process; a few milliseconds)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, BIG_BLOCK)


def release_freed() -> None:
    """Return the pages glibc holds free to the system (a few milliseconds)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
