"""Memory a fan-out freed goes back to the system: after ``map_big_blocks()``, or once
``release_freed()`` has run, big blocks freed one after another do not stay in the process's
RSS (without either, glibc keeps them resident once a first big block has been freed: the
probe run with neither grows by some 16 MB)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from plait.proc.memory import map_big_blocks, release_freed

def rss():
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) / 1024

if sys.argv[1] == "map":
    map_big_blocks()
first = bytearray(64 << 20)  # a big block, freed: glibc would raise its threshold now
del first
before = rss()
kept = []
for _ in range(8):
    block = bytes(16 << 20)  # a 16 MB copy of a result, freed after use
    kept.append(bytes(1000))  # small blocks allocated after it
    del block
if sys.argv[1] == "trim":
    release_freed()
print(rss() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.parametrize("way", ["map", "trim"])
def test_big_blocks_freed_one_after_another_leave_the_rss_as_it_was(way: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, way], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    grown = float(done.stdout)
    assert grown < 8, f"the RSS grew by {grown:.1f} MB after eight 16 MB blocks were freed"
