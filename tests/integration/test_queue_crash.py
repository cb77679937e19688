"""kill -9 of the scheduler and of agents at random moments: every enqueued run runs exactly
once, no slot stays taken, and the queue's limit holds at every moment.

30 runs of a short workflow go into a queue declared with ``maxConcurrency: 2``. ``plait
scheduler`` is killed -9 three times at random moments and restarted (the new process waits
for the dead one's lease to expire); a few agents (``python -m plait agent --run-id X``) are
killed -9 mid-run; their runs end ``failed`` ("agent process exited") and are retried with
``plait retry``. Each step appends "<run id> start|end <time>" to one file.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.peek import Peek

RUNS = 30
LIMIT = 2
KILLS = 3


def _scheduler(home: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "plait", "scheduler"],
            stdout=out,
            stderr=out,
            env={**os.environ, "PLAIT_HOME": str(home)},
        )


def _agents_mid_run(home: Path) -> list[tuple[int, str]]:
    """(pid, run id) of this home's agents whose run has started (its pid is recorded)."""
    found = subprocess.run(
        ["pgrep", "-f", "plait agent --run-id"], capture_output=True, text=True
    ).stdout.split()
    with Peek(home) as db:
        started = dict(db.rows("SELECT pid, id FROM runs WHERE status = 'running'"))
    agents = []
    for pid in map(int, found):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"PLAIT_HOME={home}".encode() in environ and pid in started:
            agents.append((pid, started[pid]))
    return agents


class Sampler(threading.Thread):
    """The most runs of the queue that the store says are running, sampled every 20 ms."""

    def __init__(self, home: Path) -> None:
        super().__init__(daemon=True)
        self.home = home
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with Peek(self.home) as db:
            while not self.stop.wait(0.02):
                n = db.one("SELECT count(*) FROM runs WHERE queue = 'crash' AND status = 'running'")
                self.peak = max(self.peak, n)


def _open_runs(home: Path) -> int:
    with Peek(home) as db:
        return int(db.one("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"))


def test_kill_9_of_scheduler_and_agents_loses_no_run_and_runs_none_twice(
    home: Path, tmp_path: Path, cli
) -> None:
    rng = random.Random(int(os.environ.get("PLAIT_CRASH_SEED", time.time())))
    marks = tmp_path / "marks.txt"
    (home / "dags").mkdir(parents=True)
    (home / "config.yaml").write_text(f"queues:\n  - name: crash\n    maxConcurrency: {LIMIT}\n")
    (home / "dags" / "job.yaml").write_text(
        "name: job\nqueue: crash\nmaxActiveRuns: 50\nsteps:\n  - name: work\n"
        '    command: sh -c \'echo "$PLAIT_RUN_ID start $(date +%s.%N)" >> '
        f'{marks}; sleep 0.1; echo "$PLAIT_RUN_ID end $(date +%s.%N)" >> {marks}\'\n'
    )
    ids = []
    for _ in range(RUNS):
        result = cli("enqueue", "job")
        assert result.code == 0, result.err
        ids.append(result.out.strip())
    sampler = Sampler(home)
    sampler.start()
    log = tmp_path / "scheduler.log"
    killed_agents: set[str] = set()
    scheduler = _scheduler(home, log)
    try:
        for round_ in range(KILLS):
            time.sleep(rng.uniform(0.2, 1.2))
            if round_ < KILLS - 1 or rng.random() < 0.5:
                deadline = time.monotonic() + 3
                agents = _agents_mid_run(home)
                while not agents and time.monotonic() < deadline:
                    time.sleep(0.02)
                    agents = _agents_mid_run(home)
                if agents:
                    pid, run_id = rng.choice(agents)
                    os.kill(pid, signal.SIGKILL)
                    killed_agents.add(run_id)
            scheduler.kill()  # kill -9 at a random moment
            scheduler.wait(timeout=10)
            scheduler = _scheduler(home, log)
        deadline = time.monotonic() + 60
        while _open_runs(home) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _open_runs(home) == 0, log.read_text()[-3000:]

        with Peek(home) as db:
            final = dict(db.rows("SELECT id, status FROM runs"))
            failed_at = dict(db.rows("SELECT id, finished_at FROM runs WHERE status = 'failed'"))
            errors = dict(db.rows("SELECT id, error FROM runs WHERE status = 'failed'"))
        assert set(final) == set(ids)
        assert set(failed_at) <= killed_agents, errors
        assert all(e == "agent process exited" for e in errors.values()), errors
        for run_id in failed_at:  # exactly-once completion: retry what an agent kill broke
            retried = subprocess.run(
                [sys.executable, "-m", "plait", "retry", "-q", "--run-id", run_id],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert retried.returncode == 0, retried.stderr
    finally:
        sampler.stop.set()
        if scheduler.poll() is None:
            scheduler.send_signal(signal.SIGTERM)
            try:
                scheduler.wait(timeout=10)
            except subprocess.TimeoutExpired:
                scheduler.kill()
    sampler.join(timeout=5)

    with Peek(home) as db:
        statuses = dict(db.rows("SELECT id, status FROM runs"))
        leftover = db.one("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
    assert leftover == 0
    assert statuses == {run_id: "succeeded" for run_id in ids}
    assert sampler.peak <= LIMIT

    starts: dict[str, list[float]] = {}
    ends: dict[str, list[float]] = {}
    for line in marks.read_text().splitlines():
        run_id, what, moment = line.split()
        (starts if what == "start" else ends).setdefault(run_id, []).append(float(moment))
    for run_id in ids:
        if run_id in failed_at:
            # killed mid-run, then retried: the step ran again unless it had been recorded
            # succeeded before the kill
            assert 1 <= len(starts[run_id]) <= 2 and len(ends.get(run_id, [])) >= 1
        else:
            assert len(starts[run_id]) == 1 and len(ends[run_id]) == 1, run_id  # once
    # at no moment more than LIMIT steps running: a step cut short ends when its run failed
    intervals = []
    for run_id, begun in starts.items():
        finished = sorted(ends.get(run_id, []))
        ordered = sorted(begun)
        for start, following in zip(ordered, [*ordered[1:], float("inf")], strict=True):
            later = [e for e in finished if start <= e < following]
            if later:
                finished.remove(later[0])
            intervals.append((start, later[0] if later else failed_at[run_id]))
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    open_now = peak = 0
    for _, delta in events:
        open_now += delta
        peak = max(peak, open_now)
    assert peak <= LIMIT
    print(f"killed agents: {sorted(killed_agents)}; failed then retried: {sorted(failed_at)}")
