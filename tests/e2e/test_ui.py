"""The web UI in a real browser: Debian's chromium driven by Playwright, against a real server.

A ``plait server`` runs on a free loopback port with a fresh PLAIT_HOME and, as its DAGs folder,
a copy of ``examples/`` plus workflows written here (a long sleep to stop, a step that fails once
to retry, a step that prints ``<script>``, one run at a time to queue, a fan-out of 1,000 items,
params to fill in, a tolerated failure and a skipped step). Every page visited is saved as a
screenshot in ``test-output/screenshots/`` for a person to look at.

Nothing here is skipped: without ``/usr/bin/chromium`` (``scripts/test.sh`` installs it) or
without the built UI (``scripts/setup.sh`` builds it) the tests fail and say so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import ROOT
from tests.pg import PostgresServer
from tests.servers import plait_server, server_env

CHROMIUM = os.environ.get("PLAIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STATIC = ROOT / "src" / "plait" / "api" / "static" / "index.html"
SHOTS = ROOT / "test-output" / "screenshots"
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)  # a loaded machine: what a page shows may take a while

SLEEPY = """
    name: sleepy
    description: Sleeps for a long time, printing a tick every second.
    tags: [test]
    steps:
      - name: nap
        command: bash -c 'for i in $(seq 1 120); do echo "tick $i"; sleep 1; done'
      - name: after
        command: echo never
"""

FLAKY = """
    name: flaky
    description: Fails at its second step the first time, succeeds when retried.
    tags: [test]
    steps:
      - name: prepare
        command: echo preparing
      - name: shaky
        command: bash -c 'test -f {marker} || { touch {marker}; echo broken >&2; exit 3; }'
      - name: finish
        command: echo finished
"""

XSS = """
    name: xss
    description: Prints markup that must be shown as text.
    steps:
      - name: shout
        command: echo '<script>alert(1)</script><img src=x onerror=alert(2)>'
        output: MARKUP
"""


ONE_AT_A_TIME = """
    name: one-at-a-time
    description: Sleeps 3 s; only one run at a time.
    maxActiveRuns: 1
    steps:
      - name: nap
        command: sleep 3
"""

FAN_THOUSAND = """
    name: fan-thousand
    description: A fan-out over 1,000 items.
    steps:
      - name: each
        run: fan-leaf
        parallel:
          items: [{items}]
          maxConcurrent: 50
---
name: fan-leaf
steps:
  - name: nothing
    command: "true"
"""

HUNDRED_K = 100_000
FAN_HUNDRED_K = """
name: fan-hundred-k
description: A fan-out over 100,000 items read from a file; items from 40 on fail.
steps:
  - name: each
    run: fan-hundred-k-leaf
    parallel:
      items: {file: hundred-k.txt}
      maxConcurrent: 4
    params: "N=${ITEM}"
---
name: fan-hundred-k-leaf
params: [N=item-0]
steps:
  - name: check
    command: test "${N#item-}" -lt 40
"""

GREETER = """
    name: greeter
    description: Greets someone, some times.
    params:
      - WHO: world
      - TIMES: "2"
    steps:
      - name: greet
        command: echo "hello ${WHO} x${TIMES}"
"""

TOLERANT = """
    name: tolerant
    description: A tolerated failure, a plain one, and a step skipped by its precondition.
    type: graph
    steps:
      - name: tolerated
        command: exit 4
        continueOn:
          failure: true
      - name: plain-failure
        command: exit 5
      - name: gated
        command: echo never
        preconditions:
          - condition: "`echo no`"
            expected: "yes"
"""


UI_SECRET = "ui-secret-5e1b0c9d"
SECRETIVE = """
    name: secretive
    description: Prints a secret (masked) and more than its log may keep.
    secrets:
      - name: API_TOKEN
        provider: env
        key: UI_SOURCE_TOKEN
    steps:
      - name: tell
        command: echo "the token is $API_TOKEN"
        output: TOLD
      - name: loud
        command: head -c 200000 /dev/zero | tr '\\0' 'x'
"""

GATED = """
    name: gated
    description: Waits for a person before it deploys.
    runConfig: {disableParamEdit: true}
    params:
      - TARGET: staging
    steps:
      - name: ask
        type: hitl
        config:
          prompt: "Deploy to ${TARGET}?"
          input: [TICKET]
          required: [TICKET]
      - name: deploy
        command: echo "deployed ${TICKET} to ${TARGET}"
"""

HOOKED = """
    name: hooked
    description: Started by other systems through its webhook.
    params:
      - BRANCH: none
    webhook:
      params:
        BRANCH: ref
    steps:
      - name: build
        command: echo "building ${BRANCH}"
"""

# A run on its own in the queue "holding" (to pause it) and one to start while it is paused.
HOLDER = """
    name: holder
    queue: holding
    steps:
      - name: hold
        command: sleep 120
"""
HELD = """
    name: held
    queue: holding
    priority: 7
    steps:
      - name: go
        command: echo went
"""

# A step that starts a run without waiting for it, and a fan-out whose second item fails, so
# that the items after it never start.
STARTER = """
name: starter
steps:
  - name: kick-off
    run: started-report
    wait: false
    output: REPORT_RUN
  - name: fan
    run: starter-item
    parallel: {items: [ok, bad, later, last], maxConcurrent: 1}
    params: "X=${ITEM}"
---
name: starter-item
params: [X=ok]
steps:
  - name: check
    command: test "${X}" != bad
"""
STARTED_REPORT = """
    name: started-report
    steps:
      - name: report
        command: echo reported
"""

# A run that starts a long run without waiting for it, and goes on for a while itself.
LONG_STARTER = """
    name: long-starter
    steps:
      - name: kick
        run: long-started
        wait: false
      - name: hold
        command: sleep 60
        depends: kick
"""
LONG_STARTED = """
    name: long-started
    steps:
      - name: work
        command: sleep 60
"""

TYPED = """
    name: typed
    description: Declares the types of its params.
    params:
      - name: COUNT
        type: integer
        required: true
        description: how many greetings to send
      - name: MODE
        enum: [fast, slow]
        default: fast
      - name: LOUD
        type: boolean
        default: "false"
    steps:
      - name: greet
        command: echo "count=${COUNT} mode=${MODE} loud=${LOUD}"
"""

SERVER_ENV: dict[str, dict[str, str]] = {}
"""The environment of each test server (by base URL), for processes started beside it."""


BULK = 150  # workflows of the folder bulk/
DEEP_FAIL = """
name: deep-fail
steps:
  - name: down
    run: deep-middle
    parallel: {items: [ok, bad], maxConcurrent: 1}
    params: "X=${ITEM}"
---
name: deep-middle
params: [X=ok]
steps:
  - name: leaf
    run: deep-leaf
    params: "X=${X}"
---
name: deep-leaf
params: [X=ok]
steps:
  - name: check
    command: test "${X}" = ok
"""

TREE = """
name: tree-top
steps:
  - name: fan
    run: tree-mid
    parallel: {items: [a, b, c], maxConcurrent: 3}
    params: "X=${ITEM}"
---
name: tree-mid
params: [X=a]
steps:
  - name: call
    run: tree-leaf
    params: "X=${X}"
---
name: tree-leaf
params: [X=a]
steps:
  - name: check
    command: test "${X}" != b
"""

HISTORIED = """
    name: historied
    description: Three steps; the second fails when told to.
    params:
      - FAIL: "no"
    steps:
      - name: fetch
        command: echo fetched
      - name: check
        command: sh -c 'echo "checking $1"; test "$1" != yes' _ ${FAIL}
      - name: publish
        command: echo published
"""
WIDE_STEPS = [f"step-{(i * 37) % 100:02d}" for i in range(100)]  # not in name order


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not STATIC.is_file():
        pytest.fail(f"the web UI is not built ({STATIC} is missing): run scripts/setup.sh")
    root = tmp_path_factory.mktemp("ui")
    dags = root / "dags"
    shutil.copytree(ROOT / "examples", dags)
    (dags / "sleepy.yaml").write_text(textwrap.dedent(SLEEPY).lstrip())
    (dags / "flaky.yaml").write_text(
        textwrap.dedent(FLAKY).lstrip().replace("{marker}", str(root / "flaky.marker"))
    )
    (dags / "xss.yaml").write_text(textwrap.dedent(XSS).lstrip())
    (dags / "one-at-a-time.yaml").write_text(textwrap.dedent(ONE_AT_A_TIME).lstrip())
    items = ", ".join(str(i) for i in range(1000))
    fan = textwrap.dedent(FAN_THOUSAND.split("---")[0]).lstrip().replace("{items}", items)
    (dags / "fan-thousand.yaml").write_text(fan + "---" + FAN_THOUSAND.split("---")[1])
    (dags / "fan-hundred-k.yaml").write_text(FAN_HUNDRED_K.lstrip())
    (dags / "hundred-k.txt").write_text("".join(f"item-{i}\n" for i in range(HUNDRED_K)))
    (dags / "greeter.yaml").write_text(textwrap.dedent(GREETER).lstrip())
    (dags / "tolerant.yaml").write_text(textwrap.dedent(TOLERANT).lstrip())
    (dags / "secretive.yaml").write_text(textwrap.dedent(SECRETIVE).lstrip())
    (dags / "gated.yaml").write_text(textwrap.dedent(GATED).lstrip())
    (dags / "deep-fail.yaml").write_text(DEEP_FAIL.lstrip())
    (dags / "tree-top.yaml").write_text(TREE.lstrip())
    (dags / "historied.yaml").write_text(textwrap.dedent(HISTORIED).lstrip())
    (dags / "wide.yaml").write_text(
        "name: wide\nsteps:\n"
        + "".join(f"  - name: {s}\n    command: 'true'\n" for s in WIDE_STEPS)
    )
    (dags / "many-lines.yaml").write_text(
        "name: many-lines\nsteps:\n  - name: count\n"
        "    command: sh -c 'seq 1 6000 | sed s/^/line-/'\n"
    )
    (dags / "yearly.yaml").write_text(  # a cron mark in its header (fires on 1 January)
        'name: yearly\nschedule: "0 3 1 1 *"\nsteps:\n  - echo happy new year\n'
    )
    for text in (HOOKED, HOLDER, HELD, STARTED_REPORT, TYPED, LONG_STARTER, LONG_STARTED):
        spec = textwrap.dedent(text).lstrip()
        (dags / f"{spec.split()[1]}.yaml").write_text(spec)
    (dags / "starter.yaml").write_text(STARTER.lstrip())
    (dags / "bulk").mkdir()
    for i in range(BULK):  # a folder of many workflows: the list pages
        (dags / "bulk" / f"bulk-{i:04d}.yaml").write_text(
            f"name: bulk-{i:04d}\ntags: [bulk]\nsteps:\n  - echo {i}\n"
        )
    (root / "home").mkdir()
    (root / "home" / "config.yaml").write_text("logs:\n  maxStepLogSize: 64KiB\n")
    extra = {"UI_SOURCE_TOKEN": UI_SECRET}
    with plait_server(root, dags, env=extra) as (base, _):
        SERVER_ENV[base] = server_env(root / "home", dags, extra)
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))

    def on_dialog(d) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.errors = errors  # type: ignore[attr-defined]
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert not errors, f"errors in the page: {errors}"
    assert not dialogs, f"dialogs opened: {dialogs}"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the graph fit and fonts settle
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def run_id_of(page: Page) -> str:
    m = re.search(r"/runs/([^/?#]+)", page.url)
    assert m, page.url
    return m.group(1)


def head_status(page: Page, status: str):  # type: ignore[no-untyped-def]
    return page.locator(f".page-head .badge[data-status={status}]").first


def start_from_list(page: Page, workflow: str, params: dict[str, str] | None = None) -> str:
    page.goto("/workflows")
    row = page.locator(f"tr[data-workflow='{workflow}']")
    row.get_by_role("button", name="Start").click()
    dialog = page.get_by_role("dialog")
    for name, value in (params or {}).items():
        dialog.locator(f"input[data-param='{name}']").fill(value)
    dialog.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"/runs/[^/]+$"))
    return run_id_of(page)


def api(base: str, method: str, path: str, body: object = None) -> dict:  # type: ignore[type-arg]
    """One request to the server's REST API (with the header state changes need)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + "/api/v1" + path,
        data=data,
        method=method,
        headers={"X-Plait-Request": "1", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_multi_level_composition_drill_down_and_back(page: Page) -> None:
    page.goto("/workflows")
    expect(page.locator("tr[data-workflow='multi-env-deployment']")).to_be_visible()
    shot(page, "01-workflows")

    row = page.locator("tr[data-workflow='multi-env-deployment']")
    row.get_by_role("button", name="Start").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("input[data-param='VERSION']").fill("9.9.9")
    shot(page, "02-start-dialog")
    dialog.get_by_role("button", name="Start").click()

    # The page shows the new run and turns green by itself (SSE), with no reload.
    expect(page).to_have_url(re.compile(r"/runs/[^/]+$"))
    root_id = run_id_of(page)
    page.evaluate("window.__noReload = true")
    expect(head_status(page, "succeeded")).to_be_visible()
    assert page.evaluate("window.__noReload") is True
    expect(page.get_by_test_id("params")).to_contain_text("9.9.9")
    expect(page.get_by_test_id("items-deploy-environments")).to_contain_text("3/3 ✓")
    shot(page, "03-run")

    # Level 2: the parallel step's items.
    page.get_by_test_id("items-deploy-environments").click()
    expect(page).to_have_url(re.compile(r"/steps/deploy-environments/items"))
    table = page.get_by_test_id("items-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).to_contain_text("staging")
    expect(page.get_by_test_id("progress")).to_contain_text("3/3 ✓ · 0 ✗")
    page.get_by_label("filter by status").select_option("failed")
    expect(table).to_contain_text("No items with status failed")
    page.get_by_label("filter by status").select_option("")
    expect(table.locator("tbody tr")).to_have_count(3)
    shot(page, "04-items")

    # Level 3: one item's run, with its own page, breadcrumbs and "called by".
    table.locator("tr[data-item='1'] a").click()
    expect(page).to_have_url(re.compile(r"/runs/[^/]+$"))
    child_id = run_id_of(page)
    assert child_id != root_id
    crumbs = page.get_by_test_id("breadcrumbs")
    expect(crumbs).to_contain_text("multi-env-deployment")
    expect(crumbs).to_contain_text("deploy-environments")
    expect(crumbs).to_contain_text("item 1")
    expect(page.locator(".page-head .called-by")).to_contain_text("deploy-environments › item 1")
    expect(head_status(page, "succeeded")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    shot(page, "05-child-run")

    # Level 4: that item's step log.
    page.locator("tr[data-step='deploy'] a", has_text="stdout").click()
    expect(page.get_by_test_id("log")).to_contain_text(
        "deployed app-9.9.9.tar.gz (9.9.9) to staging"
    )
    shot(page, "06-item-log")

    # Back up by breadcrumbs: the item run, then the root run.
    page.get_by_test_id("breadcrumbs").get_by_role("link", name=re.compile("^environment")).click()
    expect(page).to_have_url(re.compile(f"/runs/{child_id}$"))
    page.get_by_test_id("breadcrumbs").locator(f"a[data-crumb='{root_id}']").click()
    expect(page).to_have_url(re.compile(f"/runs/{root_id}$"))
    expect(head_status(page, "succeeded")).to_be_visible()

    # The sub-workflow step leads to its child run.
    page.get_by_test_id("child-build").click()
    expect(page.get_by_test_id("breadcrumbs")).to_contain_text("multi-env-deployment")
    expect(page.locator(".page-head .called-by")).to_contain_text("build")

    # The workflow's graph (coloured by this run), its history grid and its YAML.
    page.goto("/workflows/multi-env-deployment")
    graph = page.get_by_test_id("graph")
    expect(graph.locator(".gnode[data-step='deploy-environments']")).to_contain_text("3/3 ✓")
    expect(graph.locator(".gnode.s-ok")).to_have_count(2)
    shot(page, "07-workflow-graph")
    page.get_by_role("tab", name="History").click()
    grid = page.get_by_test_id("history-grid")
    expect(grid.locator("tbody a.hcell.s-ok")).to_have_count(2)
    shot(page, "08-history")
    grid.locator("tbody a.hcell").first.click()
    expect(page).to_have_url(re.compile(f"/runs/{root_id}/steps/[^/]+/log"))

    page.goto("/workflows/multi-env-deployment?tab=spec")
    expect(page.get_by_test_id("validity")).to_have_text("✓ valid")
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nbogus_field: 1\n")
    expect(page.get_by_test_id("validity")).to_contain_text("problem")
    expect(page.get_by_test_id("problems")).to_contain_text("bogus_field")
    expect(page.locator(".cm-lintRange-error, .cm-lint-marker-error").first).to_be_visible()
    shot(page, "09-editor")

    page.goto("/")
    expect(page.get_by_test_id("runs-table")).to_contain_text("multi-env-deployment")
    shot(page, "10-dashboard")


def test_stop_a_running_run_with_live_log(page: Page) -> None:
    run_id = start_from_list(page, "sleepy")
    expect(head_status(page, "running")).to_be_visible()
    page.evaluate("window.__noReload = true")
    running = page.locator("tr[data-step='nap'] .badge[data-status=running]")
    expect(running).to_be_visible()
    # Elapsed time ticks while it runs.
    expect(page.locator("tr[data-step='nap'] td.elapsed")).to_have_text(
        re.compile(r"[1-9](\.\d)? s")
    )
    shot(page, "11-running")

    # The log tails live.
    page.locator("tr[data-step='nap'] a", has_text="stdout").click()
    expect(page.get_by_test_id("log")).to_contain_text("tick 2")
    expect(page.get_by_test_id("log")).to_contain_text("tick 4")
    shot(page, "12-live-log")
    page.go_back()
    expect(head_status(page, "running")).to_be_visible()
    page.evaluate("window.__noReload = true")

    page.get_by_role("button", name="Stop").click()
    confirm = page.get_by_role("group", name="confirm stop")
    expect(confirm).to_contain_text("Stop this run and its children?")
    confirm.get_by_role("button", name="Yes, stop").click()
    expect(head_status(page, "cancelled")).to_be_visible()
    assert page.evaluate("window.__noReload") is True  # the change came live, no reload
    assert run_id_of(page) == run_id  # the page still shows that run
    expect(page.locator("tr[data-step='nap'] .badge")).not_to_have_attribute(
        "data-status", "running"
    )
    shot(page, "13-stopped")

    page.goto("/queues")
    expect(page.locator("h1")).to_have_text("Queues")
    shot(page, "14-queues")


def test_retry_a_failed_run_from_a_step(page: Page) -> None:
    run_id = start_from_list(page, "flaky")
    expect(head_status(page, "failed")).to_be_visible()
    expect(page.locator("tr[data-step='shaky'] .badge")).to_have_attribute("data-status", "failed")
    expect(page.locator("tr[data-step='finish'] .badge")).to_have_attribute(
        "data-status", "upstream_failed"
    )
    shot(page, "15-failed")

    page.evaluate("window.__noReload = true")
    page.get_by_label("retry from step").select_option("shaky")
    page.get_by_role("button", name="Retry from step").click()
    expect(head_status(page, "succeeded")).to_be_visible()
    assert run_id_of(page) == run_id
    assert page.evaluate("window.__noReload") is True
    # Each attempt of the retried step keeps its own row: the failed one and the new one.
    page.locator("tr[data-step='shaky'] button.link").click()
    expect(page.locator("tr.attempt-row")).to_have_count(2)
    expect(page.locator("tr.attempt-row").last).to_contain_text("succeeded")
    expect(page.locator("tr[data-step='finish'] .badge")).to_have_attribute(
        "data-status", "succeeded"
    )
    expect(page.locator("tr[data-step='prepare'] .badge")).to_have_attribute(
        "data-status", "succeeded"
    )
    shot(page, "16-retried")


def test_markup_in_logs_and_outputs_is_text(page: Page) -> None:
    start_from_list(page, "xss")
    expect(head_status(page, "succeeded")).to_be_visible()
    markup = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    expect(page.locator("tr[data-step='shout'] code.output")).to_have_text(markup)
    page.locator("tr[data-step='shout'] a", has_text="stdout").click()
    log = page.get_by_test_id("log")
    expect(log).to_contain_text(markup)
    assert log.locator("script, img").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []  # type: ignore[attr-defined]
    shot(page, "17-markup-as-text")


def test_queues_show_why_runs_wait_live_and_dequeue(page: Page, server: str) -> None:
    runs = [api(server, "POST", "/workflows/one-at-a-time/enqueue", {})["runId"] for _ in range(3)]
    page.goto("/queues")
    card = page.locator("[data-queue='one-at-a-time']")
    row = {run_id: card.locator(f"tr[data-run-id='{run_id}']") for run_id in runs}
    # No scheduler yet: all three wait, the later ones behind the one before.
    expect(page.get_by_text("scheduler not running")).to_be_visible()
    expect(row[runs[0]]).to_contain_text("waiting for the scheduler")
    expect(row[runs[1]]).to_contain_text(f"behind run {runs[0]}")
    expect(row[runs[2]]).to_contain_text(f"behind run {runs[1]}")
    shot(page, "18-queues-waiting")

    page.evaluate("window.__noReload = true")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "plait", "scheduler"],
        env=SERVER_ENV[server],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The scheduler starts the first; the page says so by itself, and why the others wait.
        expect(page.get_by_text("scheduler running")).to_be_visible()
        expect(row[runs[0]].locator(".badge")).to_have_attribute("data-status", "running")
        expect(row[runs[1]]).to_contain_text("maxActiveRuns 1 of one-at-a-time")
        expect(row[runs[2]]).to_contain_text("maxActiveRuns 1 of one-at-a-time")
        assert page.evaluate("window.__noReload") is True
        shot(page, "19-queues-running")

        row[runs[2]].get_by_role("button", name="Dequeue").click()
        expect(row[runs[2]]).to_have_count(0)
        assert api(server, "GET", f"/runs/{runs[2]}")["status"] == "cancelled"
        api(server, "POST", f"/runs/{runs[1]}/dequeue")
        expect(row[runs[1]]).to_have_count(0)
    finally:
        scheduler.terminate()
        try:
            scheduler.wait(10)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            scheduler.wait()


def test_a_fan_out_of_a_thousand_items_stays_usable(page: Page, server: str) -> None:
    run_id = api(server, "POST", "/workflows/fan-thousand/start", {})["runId"]
    page.goto(f"/runs/{run_id}/steps/each/items")
    table = page.get_by_test_id("items-table")
    expect(table.locator("tbody tr[data-item]").first).to_be_visible()

    expect(page.get_by_test_id("items-total")).to_have_text("1000 items", timeout=90_000)
    expect(page.get_by_test_id("progress")).to_contain_text("1000/1000 ✓", timeout=90_000)
    expect(table.locator("tbody tr[data-item]")).to_have_count(50)
    shot(page, "20-items-1000")

    page.get_by_label("filter by status").select_option("succeeded")
    expect(page.get_by_test_id("items-total")).to_have_text("1000 succeeded items")
    page.get_by_label("filter by status").select_option("failed")
    expect(table).to_contain_text("No items with status failed")
    page.get_by_label("filter by status").select_option("")

    page.get_by_label("sort").select_option("-duration")
    expect(page).to_have_url(re.compile(r"sort=-duration"))
    expect(table.locator("tbody tr[data-item]")).to_have_count(50)

    page.get_by_label("sort").select_option("index")
    page.get_by_role("button", name="last »").click()
    expect(page.get_by_test_id("page-of")).to_have_text("page 20 / 20")
    expect(table.locator("tbody tr[data-item]")).to_have_count(50)
    expect(table.locator("tbody tr[data-item]").last).to_have_attribute("data-item", "999")
    shot(page, "21-items-last-page")
    page.get_by_role("button", name="« first").click()
    expect(page.get_by_test_id("page-of")).to_have_text("page 1 / 20")

    # On the run's page, the tree of child runs holds a page of them, and shows more.
    page.goto(f"/runs/{run_id}")
    level = page.get_by_test_id("run-tree").locator(f".tree-level[data-level='{run_id}']")
    expect(level.get_by_test_id("tree-counts")).to_contain_text("1,000 runs")
    expect(level.locator("li[role=treeitem]")).to_have_count(100)
    level.get_by_role("button", name="show more (100 of 1,000)").click()
    expect(level.locator("li[role=treeitem]")).to_have_count(200)
    expect(level.locator("li[role=treeitem]").last.locator(".tree-row")).to_contain_text("item 199")


def test_a_fan_out_of_a_hundred_thousand_items_shows_failures_first_and_filters_on_the_server(
    page: Page, server: str
) -> None:
    """A real run of 100,000 items that fails fast: a few items ran, the rest are recorded as
    not started. Every page and reply stays small; the failures come first."""
    run_id = api(server, "POST", "/workflows/fan-hundred-k/start", {})["runId"]
    deadline = time.monotonic() + 300
    while api(server, "GET", f"/runs/{run_id}")["status"] not in ("failed", "succeeded"):
        assert time.monotonic() < deadline, "the 100,000-item run did not end"
        time.sleep(0.5)
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/tree", f"/runs/{run_id}/children?limit=1000"):
        with urllib.request.urlopen(server + "/api/v1" + path, timeout=30) as response:
            size = len(response.read())
        assert size < 1_000_000, f"{path}: {size} bytes"
    run = api(server, "GET", f"/runs/{run_id}")
    (each,) = run["steps"]
    assert each["outputCut"] is True and each["outputSize"] > 1_000_000
    with urllib.request.urlopen(f"{server}/api/v1/runs/{run_id}/steps/each/output") as response:
        whole = json.loads(response.read())  # the whole result, in item order
    assert whole["summary"]["total"] == HUNDRED_K == len(whole["results"])
    assert [r.get("item") or r["params"]["N"] for r in whole["results"][::9999]] == [
        f"item-{i}" for i in range(0, HUNDRED_K, 9999)
    ]
    counts = api(server, "GET", f"/runs/{run_id}/children?limit=1")["counts"]
    assert sum(counts.values()) == HUNDRED_K and counts["not_started"] > 90_000, counts
    assert next(iter(counts)) == "failed"  # counts come failures first

    page.goto(f"/runs/{run_id}/steps/each/items")
    table = page.get_by_test_id("items-table")
    rows = table.locator("tbody tr[data-item]")
    expect(page.get_by_test_id("items-total")).to_have_text(f"{HUNDRED_K} items")
    expect(page.get_by_test_id("page-of")).to_have_text("page 1 / 2000")
    chips = page.get_by_test_id("item-counts")
    expect(chips.locator("button.chip").first).to_have_attribute("data-status", "failed")
    expect(chips.locator("button[data-status=not_started]")).to_contain_text(
        f"{counts['not_started']:,}"
    )
    expect(rows.first.locator(".badge[data-status=failed]")).to_be_visible()  # failures first
    expect(rows).to_have_count(50)
    shot(page, "20b-items-100000")

    chips.locator("button[data-status=not_started]").click()
    expect(page.get_by_test_id("items-total")).to_have_text(
        f"{counts['not_started']} not_started items"
    )
    expect(rows.first.locator(".badge[data-status=not_started]")).to_be_visible()
    chips.locator("button[data-status=not_started]").click()
    expect(page.get_by_test_id("items-total")).to_have_text(f"{HUNDRED_K} items")

    page.get_by_label("filter by item").fill("ITEM-99999")  # any case
    expect(page.get_by_test_id("items-total")).to_have_text("1 items holding “ITEM-99999”")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-item", "99999")
    expect(rows.first.locator(".badge[data-status=not_started]")).to_be_visible()
    page.get_by_label("filter by item").fill("item-4")  # item-4, item-40 … item-49999
    expect(page.get_by_test_id("items-total")).to_have_text("11111 items holding “item-4”")
    expect(chips.locator("button.chip").first).to_have_attribute("data-status", "failed")
    page.get_by_label("filter by item").fill("")

    page.get_by_role("button", name="last »").click()
    expect(page.get_by_test_id("page-of")).to_have_text("page 2000 / 2000")
    expect(rows).to_have_count(50)
    shot(page, "20c-items-100000-last-page")

    page.goto(f"/runs/{run_id}")
    expect(page.get_by_test_id("whole-output")).to_contain_text("whole output (")
    level = page.get_by_test_id("run-tree").locator(f".tree-level[data-level='{run_id}']")
    expect(level.get_by_test_id("tree-counts")).to_contain_text("100,000 runs")
    expect(level.locator("li[role=treeitem]")).to_have_count(100)
    first = page.get_by_test_id("first-failure")
    expect(first).to_contain_text("fan-hundred-k-leaf › check")
    first.get_by_role("link").click()
    expect(page.locator(".page-head h1")).to_contain_text("fan-hundred-k-leaf")


def test_the_workflows_list_pages_searches_and_sorts_on_the_server(page: Page) -> None:
    page.goto("/workflows")
    table = page.get_by_test_id("workflows-table")
    total = page.get_by_test_id("workflows-total")
    expect(page.get_by_test_id("workflows-page")).to_contain_text("1–100 of ")
    count = int(total.inner_text().split()[0])
    assert count > BULK
    expect(page.get_by_test_id("workflows-page")).to_have_text(f"1–100 of {count}")
    expect(table.locator("tbody tr[data-workflow]")).to_have_count(100)
    expect(table.locator("tr[data-workflow='greeter']")).to_be_visible()  # top level first
    page.get_by_role("button", name="next page").click()
    expect(page.get_by_test_id("workflows-page")).to_have_text(f"101–{min(200, count)} of {count}")
    expect(table.locator("tr[data-folder='bulk']")).to_be_visible()
    shot(page, "23-workflows-page-2")
    page.get_by_label("search workflows").fill("bulk-0149")
    expect(table.locator("tbody tr[data-workflow]")).to_have_count(1)
    expect(total).to_have_text("1 workflows")
    expect(page.get_by_test_id("workflows-page")).to_have_count(0)
    page.get_by_label("search workflows").fill("")
    page.get_by_label("tag").select_option("bulk")
    expect(total).to_have_text(f"{BULK} workflows")
    page.get_by_label("sort").select_option("-name")
    expect(table.locator("tbody tr[data-workflow]").first).to_have_attribute(
        "data-workflow", f"bulk-{BULK - 1:04d}"
    )


def test_a_failure_two_levels_down_is_one_click_from_the_root(page: Page, server: str) -> None:
    run_id = api(server, "POST", "/workflows/deep-fail/start", {})["runId"]
    page.goto(f"/runs/{run_id}")
    expect(head_status(page, "failed")).to_be_visible()
    first = page.get_by_test_id("first-failure")
    expect(first).to_contain_text("First failure, 2 levels down:")
    expect(first).to_contain_text("deep-leaf › check")
    shot(page, "25-first-failure")
    first.get_by_role("link").click()
    expect(page.locator(".page-head h1")).to_contain_text("deep-leaf")
    expect(page).to_have_url(re.compile(r"/runs/[^/]+#step-check$"))
    assert run_id_of(page) != run_id


def test_the_run_tree_opens_in_place_down_to_a_grandchild(page: Page, server: str) -> None:
    run_id = api(server, "POST", "/workflows/tree-top/start", {})["runId"]
    page.goto(f"/runs/{run_id}")
    expect(head_status(page, "failed")).to_be_visible(timeout=60_000)
    tree = page.get_by_test_id("run-tree")
    top = tree.locator(f".tree-level[data-level='{run_id}']")
    expect(top.get_by_test_id("tree-counts").first).to_contain_text("3 runs")
    expect(top.locator("> [data-testid=tree-counts] [data-status=failed]")).to_have_text("✗ 1")
    expect(top.locator("> [data-testid=tree-counts] [data-status=succeeded]")).to_have_text("✓ 2")
    children = top.locator("> ul > li[role=treeitem]")
    expect(children).to_have_count(3)
    failed = children.first  # failures first
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed.locator("> .tree-row")).to_contain_text("fan › item 1 (b)")
    expect(failed).to_have_attribute("aria-expanded", "false")
    expect(failed.locator("li[role=treeitem]")).to_have_count(0)  # loaded when opened

    failed.get_by_role("button", name="open the children of tree-mid").click()
    expect(failed).to_have_attribute("aria-expanded", "true")
    grandchild = failed.locator("li[role=treeitem]")
    expect(grandchild).to_have_count(1)
    expect(grandchild).to_have_attribute("data-status", "failed")
    expect(grandchild).to_have_attribute("aria-level", "2")
    expect(grandchild.locator(".tree-name")).to_have_text("tree-leaf")
    expect(grandchild.locator(".badge[data-status=failed]")).to_be_visible()

    fine = children.nth(1)
    expect(fine).to_have_attribute("data-status", "succeeded")
    fine.get_by_role("button", name="open the children of tree-mid").click()
    expect(fine.locator("li[role=treeitem]")).to_have_attribute("data-status", "succeeded")
    shot(page, "29-run-tree")

    # A grandchild's row leads to its own page, whose breadcrumbs go back to the root.
    leaf_id = grandchild.get_attribute("data-run-id")
    grandchild.locator(".tree-name").click()
    expect(page).to_have_url(re.compile(f"/runs/{leaf_id}$"))
    expect(head_status(page, "failed")).to_be_visible()
    expect(page.get_by_test_id("breadcrumbs").locator(f"a[data-crumb='{run_id}']")).to_be_visible()


def wait_final(server: str, run_id: str) -> dict:  # type: ignore[type-arg]
    for _ in range(600):
        run = api(server, "GET", f"/runs/{run_id}")
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never finished")


def test_the_history_grid_colours_each_step_of_each_run_and_opens_its_log(
    page: Page, server: str
) -> None:
    ran = []
    for fail in ("no", "yes", "no"):  # one at a time (maxActiveRuns 1)
        ran.append(api(server, "POST", "/workflows/historied/start", {"params": {"FAIL": fail}}))
        wait_final(server, ran[-1]["runId"])
    ok_old, failed, ok_new = (r["runId"] for r in ran)
    page.goto("/workflows/historied?tab=history")
    grid = page.get_by_test_id("history-grid")
    heads = grid.locator("th.hgrid-run")
    expect(heads).to_have_count(3)
    assert [heads.nth(i).get_attribute("data-run-id") for i in range(3)] == [
        ok_new,
        failed,
        ok_old,
    ]  # newest first
    expect(heads.nth(1).locator("a.hcell")).to_have_attribute("data-status", "failed")
    expect(heads.nth(1).get_by_test_id("run-took")).to_have_text(re.compile(r"\d+(\.\d)? m?s"))
    rows = grid.locator("tbody tr")
    assert [rows.nth(i).get_attribute("data-step") for i in range(3)] == [
        "fetch",
        "check",
        "publish",
    ]

    def cell(step: str, run_id: str):  # type: ignore[no-untyped-def]
        return grid.locator(f"tr[data-step='{step}'] a.hcell[data-run-id='{run_id}']")

    for run_id in (ok_new, ok_old):
        for step in ("fetch", "check", "publish"):
            expect(cell(step, run_id)).to_have_attribute("data-status", "succeeded")
            expect(cell(step, run_id)).to_have_class(re.compile(r"\bs-ok\b"))
    expect(cell("fetch", failed)).to_have_attribute("data-status", "succeeded")
    expect(cell("check", failed)).to_have_attribute("data-status", "failed")
    expect(cell("check", failed)).to_have_class(re.compile(r"\bs-fail\b"))
    expect(cell("publish", failed)).to_have_attribute("data-status", "upstream_failed")
    expect(cell("publish", failed)).to_have_class(re.compile(r"\bs-upstream\b"))
    expect(page.get_by_test_id("history-page")).to_have_text("runs 1–3 of 3")
    shot(page, "32-history-grid")

    cell("check", failed).click()
    expect(page).to_have_url(re.compile(f"/runs/{failed}/steps/check/log\\?stream=stdout$"))
    expect(page.get_by_test_id("log")).to_contain_text("checking yes")


def test_the_history_grid_pages_a_hundred_steps_fifty_runs_at_a_time(
    page: Page, server: str
) -> None:
    from plait.app import open_store
    from plait.model import RunRecord, RunStatus, StepRecord, StepStatus
    from plait.store import Home

    env = SERVER_ENV[server]
    store = open_store(Home(Path(env["PLAIT_HOME"]), Path(env["PLAIT_DAGS_DIR"])))
    began = time.time() - 3600
    try:  # 120 finished runs written through the store's contract, as an agent records them
        for i in range(120):
            run_id = f"wide-{i:03d}"
            status = RunStatus.FAILED if i == 7 else RunStatus.SUCCEEDED
            record = RunRecord(run_id=run_id, name="wide", status=status,
                               created_at=began + i, started_at=began + i)  # fmt: skip
            steps = [
                StepRecord(name=name, position=position, status=StepStatus.SUCCEEDED)
                for position, name in enumerate(WIDE_STEPS)
            ]
            if i == 7:
                steps[42] = StepRecord(name=WIDE_STEPS[42], position=42, status=StepStatus.FAILED)
            store.create_run(record, steps)
            store.set_run_status(run_id, status, finished_at=began + i + 2)
    finally:
        store.close()
    page.goto("/workflows/wide?tab=history")
    grid = page.get_by_test_id("history-grid")
    expect(page.get_by_test_id("history-page")).to_have_text("runs 1–50 of 120")
    expect(grid.locator("th.hgrid-run")).to_have_count(50)
    expect(grid.locator("tbody tr")).to_have_count(100)
    assert grid.locator("tbody tr").first.get_attribute("data-step") == WIDE_STEPS[0]
    assert grid.locator("tbody tr").nth(1).get_attribute("data-step") == WIDE_STEPS[1]
    expect(grid.locator("th.hgrid-run").first).to_have_attribute("data-run-id", "wide-119")
    expect(grid.locator("tbody a.hcell")).to_have_count(5000)
    page.get_by_role("button", name="older runs").click()
    expect(page).to_have_url(re.compile(r"offset=50"))
    expect(page.get_by_test_id("history-page")).to_have_text("runs 51–100 of 120")
    page.get_by_role("button", name="older runs").click()
    expect(page.get_by_test_id("history-page")).to_have_text("runs 101–120 of 120")
    expect(grid.locator("th.hgrid-run")).to_have_count(20)
    step = WIDE_STEPS[42]
    broken = grid.locator(f"tr[data-step='{step}'] a.hcell[data-run-id='wide-007']")
    expect(broken).to_have_attribute("data-status", "failed")
    expect(page.get_by_role("button", name="older runs")).to_be_disabled()
    shot(page, "33-history-last-page")
    page.get_by_role("button", name="newer runs").click()
    expect(page.get_by_test_id("history-page")).to_have_text("runs 51–100 of 120")


def test_start_from_the_list_with_params(page: Page) -> None:
    page.goto("/workflows")
    page.locator("tr[data-workflow='greeter']").get_by_role("button", name="Start").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("input[data-param='TIMES']")).to_have_value("2")
    dialog.locator("input[data-param='WHO']").fill("playwright")
    shot(page, "22-start-with-params")
    dialog.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"/runs/[^/]+$"))
    expect(head_status(page, "succeeded")).to_be_visible()
    params = page.get_by_test_id("params")
    expect(params).to_contain_text("WHO")
    expect(params).to_contain_text("playwright")
    page.locator("tr[data-step='greet'] a", has_text="stdout").click()
    expect(page.get_by_test_id("log")).to_contain_text("hello playwright x2")


def test_tolerated_failure_and_skipped_step_look_different(page: Page) -> None:
    start_from_list(page, "tolerant")
    expect(head_status(page, "failed")).to_be_visible()
    tolerated = page.locator("tr[data-step='tolerated'] .badge").first
    plain = page.locator("tr[data-step='plain-failure'] .badge").first
    skipped = page.locator("tr[data-step='gated'] .badge").first
    expect(tolerated).to_have_attribute("data-status", "tolerated")
    expect(tolerated).to_contain_text("failed (tolerated)")
    expect(plain).to_have_attribute("data-status", "failed")
    expect(skipped).to_have_attribute("data-status", "skipped")
    expect(page.locator("tr[data-step='gated']")).to_contain_text("precondition not met")
    colours = [b.evaluate("e => getComputedStyle(e).backgroundColor") for b in (tolerated, plain)]
    assert colours[0] != colours[1], colours
    graph = page.get_by_test_id("graph")
    expect(graph.locator(".gnode[data-step='tolerated']")).to_have_class(re.compile("s-tolerated"))
    expect(graph.locator(".gnode[data-step='plain-failure']")).to_have_class(re.compile("s-fail"))
    shot(page, "23-tolerated-and-skipped")


def test_child_workflows_of_subfolders_and_documents_have_a_page(page: Page, server: str) -> None:
    page.goto("/workflows")
    page.get_by_label("search workflows").fill("build")  # (bulk/ fills the first pages)
    group = page.locator("tr.group-row[data-folder='ci']")
    expect(group).to_be_visible()
    page.locator("tr[data-workflow='build'] a", has_text="build").first.click()
    expect(page).to_have_url(re.compile(r"/workflows/build\?file=ci%2Fbuild.yaml"))
    expect(page.get_by_test_id("workflow-file")).to_contain_text("ci/build.yaml")
    expect(page.get_by_test_id("graph").locator(".gnode").first).to_be_visible()

    run_id = api(server, "POST", "/workflows/sharing-data/start", {})["runId"]
    page.goto(f"/runs/{run_id}")
    expect(head_status(page, "succeeded")).to_be_visible()
    page.get_by_test_id("child-prepare-data").click()
    expect(page.locator(".page-head .called-by")).to_contain_text("prepare-data")
    page.locator(".page-head h1 a", has_text="child-workflow").click()
    expect(page).to_have_url(re.compile(r"/workflows/child-workflow\?file=sharing-data.yaml"))
    expect(page.get_by_test_id("workflow-file")).to_contain_text("sharing-data.yaml (document 2)")
    expect(page.get_by_test_id("graph").locator(".gnode[data-step='extract']")).to_be_visible()
    shot(page, "24-child-document-workflow")


def test_secrets_are_masked_and_a_cut_log_says_so(page: Page, server: str) -> None:
    run_id = api(server, "POST", "/workflows/secretive/start", {})["runId"]
    page.goto(f"/runs/{run_id}")
    expect(head_status(page, "succeeded")).to_be_visible()
    expect(page.locator("body")).to_contain_text("the token is *******")
    assert UI_SECRET not in page.content()
    shot(page, "25-masked-secret")
    page.locator("tr[data-step='tell'] a", has_text="stdout").click()
    expect(page.get_by_test_id("log")).to_have_text("the token is *******\n")
    assert UI_SECRET not in page.content()
    page.goto(f"/runs/{run_id}")
    page.locator("tr[data-step='loud'] a", has_text="stdout").click()
    expect(page.get_by_test_id("log-cut")).to_contain_text("cap of 64 KiB")
    expect(page.get_by_test_id("log-cap")).to_contain_text("cap 64 KiB per attempt")
    expect(page.get_by_test_id("log")).to_contain_text("log cut here at 65536 bytes")
    shot(page, "26-log-cut")


def test_a_waiting_step_is_approved_in_the_page_and_fixed_params_stay_fixed(
    page: Page, server: str
) -> None:
    page.goto("/workflows")
    page.locator("tr[data-workflow='gated']").get_by_role("button", name="Start").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_test_id("params-locked")).to_be_visible()
    expect(dialog.locator("input[data-param='TARGET']")).to_have_attribute("readonly", "")
    dialog.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"/runs/[^/]+$"))
    expect(head_status(page, "waiting")).to_be_visible()
    form = page.get_by_test_id("approval-ask")
    expect(form).to_contain_text("Deploy to staging?")
    approve = form.get_by_role("button", name="✓ Approve")
    expect(approve).to_be_disabled()  # TICKET is required
    form.locator("input[data-input='TICKET']").fill("T-9")
    shot(page, "27-approval")
    approve.click()
    expect(head_status(page, "succeeded")).to_be_visible()
    expect(page.locator("tr[data-step='deploy']")).to_contain_text("succeeded")
    run_id = run_id_of(page)
    assert api(server, "GET", f"/runs/{run_id}")["outputs"]["TICKET"] == "T-9"
    shot(page, "28-approved")


WORKER_FLOW = """
    name: on-a-worker
    workerSelector: {pool: ui}
    steps:
      - name: wait
        command: sleep 60
"""


def test_the_workers_page_shows_who_is_there_and_what_they_hold(
    browser: Browser, postgres: PostgresServer, tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "on-a-worker.yaml").write_text(textwrap.dedent(WORKER_FLOW).lstrip())
    stranded = WORKER_FLOW.replace("on-a-worker", "stranded").replace("pool: ui", "pool: gpu")
    (dags / "stranded.yaml").write_text(textwrap.dedent(stranded).lstrip())
    extra = {"PLAIT_DATABASE_URL": postgres.new_database(), "PLAIT_LEASE_SECONDS": "3"}
    env = server_env(tmp_path / "home", dags, extra)
    processes: list[subprocess.Popen[bytes]] = []
    with plait_server(tmp_path, dags, env=extra) as (base, _):
        context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            page.goto("/workers")
            expect(page.get_by_text("No worker has registered")).to_be_visible()
            for command in (
                ["worker", "--id", "ui-box", "--labels", "pool=ui,zone=eu", "--slots", "2"],
                ["scheduler"],
            ):
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "plait", *command],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            row = page.locator("tr[data-worker='ui-box']")
            expect(row).to_contain_text("live", timeout=60_000)
            expect(row).to_contain_text("pool=ui")
            expect(row).to_contain_text("zone=eu")
            expect(row.locator("[data-slots]")).to_have_text("0 / 2")
            run_id = api(base, "POST", "/workflows/on-a-worker/enqueue", {})["runId"]
            expect(row.locator("[data-slots]")).to_have_text("1 / 2", timeout=60_000)
            shot(page, "30-workers")
            row.get_by_role("link").first.click()
            expect(page).to_have_url(re.compile(f"/runs/{run_id}$"))
            expect(page.locator(".head-meta")).to_contain_text("on ui-box")
            api(base, "POST", f"/runs/{run_id}/stop", {})
            # a run that no worker can take says why on its page
            stranded = api(base, "POST", "/workflows/stranded/enqueue", {})["runId"]
            page.goto(f"/runs/{stranded}")
            expect(page.get_by_test_id("waiting-reason")).to_have_text(
                "waiting: no worker with pool=gpu", timeout=60_000
            )
        finally:
            context.close()
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _background(page: Page) -> str:
    return str(page.evaluate("getComputedStyle(document.documentElement).backgroundColor"))


def test_dark_mode_follows_the_system_and_the_toggle_overrides_it(
    browser: Browser, server: str
) -> None:
    context = browser.new_context(base_url=server, color_scheme="dark")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto("/workflows/yearly")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert _background(page) == "rgb(15, 18, 23)"
        expect(page.locator(".page-head")).to_contain_text("◷")  # the cron mark: a glyph
        shot(page, "26-dark-workflow")
        page.get_by_role("button", name="light theme").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        page.reload()  # the choice is kept in this browser
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        assert _background(page) == "rgb(245, 246, 248)"
        page.get_by_role("button", name="dark theme").click()  # back to the system's
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert page.evaluate("localStorage.getItem('plait-theme')") is None
    finally:
        context.close()


def test_the_dashboards_chips_count_every_run_the_filters_match(page: Page, server: str) -> None:
    run_id = api(server, "POST", "/workflows/fan-thousand/start", {})["runId"]
    page.goto(f"/runs/{run_id}")
    expect(head_status(page, "succeeded")).to_be_visible(timeout=90_000)
    page.goto("/")
    page.get_by_label("include child runs").check()
    chips = page.get_by_test_id("status-chips")
    succeeded = chips.locator(".chip[data-status='succeeded']")
    expect(succeeded).to_be_visible()
    counted = int(succeeded.inner_text().split()[-1])
    assert counted >= 1000  # every matching run, not the 50 of the page
    expect(page.locator("table tbody tr")).to_have_count(50)
    page.get_by_label("workflow").fill("fan-thousand")
    expect(page.get_by_test_id("runs-total")).to_contain_text(" runs in all")
    expect(page.locator("table tbody tr").first).to_contain_text("fan-thousand")
    shot(page, "27-dashboard-counts")
    succeeded.click()
    expect(succeeded).to_have_class(re.compile("active"))


def test_a_long_log_draws_a_window_of_lines_searches_wraps_and_downloads(
    page: Page, server: str
) -> None:
    run_id = api(server, "POST", "/workflows/many-lines/start", {})["runId"]
    page.goto(f"/runs/{run_id}")
    expect(head_status(page, "succeeded")).to_be_visible()
    page.goto(f"/runs/{run_id}/steps/count/log?stream=stdout&whole=1")
    log = page.get_by_test_id("log")
    expect(log).to_contain_text("line-6000")
    page.get_by_role("button", name="⤒ beginning").click()  # the first 1,000 lines
    expect(log.locator(".line").first).to_have_attribute("data-n", "1")
    page.get_by_role("button", name="⤓ end").click()
    expect(log.locator(".line").last).to_contain_text("line-6000")
    page.get_by_label("search the log").fill("line-5999")
    expect(page.get_by_test_id("log-matches")).to_have_text("1 match next")
    expect(log.locator("mark")).to_have_count(1)
    page.get_by_label("wrap").check()
    expect(log).to_have_class(re.compile(r"\bwrap\b"))
    page.get_by_label("line numbers").uncheck()
    expect(log).not_to_have_class(re.compile(r"numbered"))
    shot(page, "28-log-search")
    href = page.get_by_role("link", name="⬇ download").get_attribute("href")
    assert href is not None
    whole = page.request.get(href)
    assert whole.ok and whole.headers["content-disposition"].startswith("attachment")
    lines = whole.text().splitlines()
    assert len(lines) == 6000 and lines[0] == "line-1" and lines[-1] == "line-6000"


def webhook_call(base: str, token: str, body: object) -> httpx.Response:
    """A call of another system to a workflow's webhook: its token, no X-Plait-Request."""
    return httpx.post(
        f"{base}/api/v1/webhooks/hooked",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_a_webhook_token_is_made_shown_once_used_and_revoked(page: Page, server: str) -> None:
    page.goto("/workflows/hooked?tab=webhook")
    panel = page.get_by_test_id("webhook")
    expect(panel.get_by_test_id("webhook-state")).to_contain_text("No token")
    panel.get_by_role("button", name="Create token").click()
    token_box = panel.get_by_test_id("webhook-token")
    expect(token_box).to_be_visible()
    token = token_box.input_value()
    assert len(token) >= 20
    expect(panel.get_by_test_id("webhook-curl")).to_contain_text(f"Bearer {token}")
    expect(panel.get_by_test_id("webhook-curl")).to_contain_text(f"{server}/api/v1/webhooks/hooked")
    expect(panel.get_by_test_id("webhook-last-used")).to_contain_text("never")
    shot(page, "40-webhook-new-token")

    # Another system calls it with that token: a run of the workflow starts, with the payload.
    answer = webhook_call(server, token, {"ref": "refs/heads/main"})
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["runId"]
    run = wait_final(server, run_id)
    assert run["name"] == "hooked" and run["status"] == "succeeded"
    assert run["params"]["BRANCH"] == "refs/heads/main"
    listed = api(server, "GET", "/runs?workflow=hooked")["runs"]
    assert run_id in [r["runId"] for r in listed]

    # Reloaded, the page never shows the token again, and says it was used.
    page.reload()
    expect(panel.get_by_test_id("webhook-state")).to_contain_text("token set")
    expect(panel.get_by_test_id("webhook-last-used")).not_to_contain_text("never")
    expect(panel.get_by_test_id("webhook-token")).to_have_count(0)
    assert token not in page.content()
    assert api(server, "GET", "/workflows/hooked/webhook")["lastUsedAt"] is not None
    shot(page, "41-webhook-used")

    # Replacing asks first; the old token stops working, the new one is shown once.
    panel.get_by_role("button", name="Replace token").click()
    panel.get_by_role("group", name="confirm replace").get_by_role("button", name="No").click()
    expect(panel.get_by_test_id("webhook-token")).to_have_count(0)
    panel.get_by_role("button", name="Replace token").click()
    panel.get_by_role("button", name="Yes, replace").click()
    expect(panel.get_by_test_id("webhook-token")).to_be_visible()
    replaced = panel.get_by_test_id("webhook-token").input_value()
    assert replaced != token
    assert webhook_call(server, token, {}).status_code == 401

    # The Webhooks page lists every workflow that has a token, and leads to its tab.
    page.get_by_role("link", name="Webhooks").click()
    row = page.get_by_test_id("webhooks").locator('tr[data-webhook="hooked"]')
    expect(row).to_contain_text("POST /api/v1/webhooks/hooked")
    expect(row.get_by_test_id("webhook-last-used")).to_contain_text("never")  # the new token
    assert replaced not in page.content()
    shot(page, "43-webhooks-page")
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("group", name="confirm revoke").get_by_role("button", name="No").click()
    expect(row).to_be_visible()
    row.get_by_role("link", name="hooked").click()
    expect(page).to_have_url(re.compile(r"/workflows/hooked\?tab=webhook$"))
    expect(panel.get_by_test_id("webhook-state")).to_contain_text("token set")

    # Revoking asks first, then the token opens nothing.
    panel.get_by_role("button", name="Revoke").click()
    expect(panel.get_by_role("group", name="confirm revoke")).to_contain_text("Revoke the token?")
    shot(page, "42-webhook-revoke")
    panel.get_by_role("button", name="Yes, revoke").click()
    expect(panel.get_by_test_id("webhook-state")).to_contain_text("No token")
    expect(panel.get_by_test_id("webhook-token")).to_have_count(0)
    assert webhook_call(server, replaced, {"ref": "x"}).status_code == 401
    assert httpx.get(f"{server}/api/v1/workflows/hooked/webhook", timeout=30).status_code == 404

    # A token revoked from the Webhooks page is gone the same way.
    again = api(server, "POST", "/workflows/hooked/webhook", {})["token"]
    assert webhook_call(server, again, {"ref": "y"}).status_code == 202
    page.goto("/webhooks")
    row = page.get_by_test_id("webhooks").locator('tr[data-webhook="hooked"]')
    expect(row.get_by_test_id("webhook-last-used")).not_to_contain_text("never")
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Yes, revoke").click()
    expect(page.locator('tr[data-webhook="hooked"]')).to_have_count(0)
    assert webhook_call(server, again, {"ref": "z"}).status_code == 401


def test_pausing_a_schedule_skips_its_times_until_it_is_resumed(
    browser: Browser, tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "ticker.yaml").write_text(
        'name: ticker\nschedule: "@every 2s"\nsteps:\n  - name: tick\n    command: "true"\n'
    )
    env = server_env(tmp_path / "home", dags)
    scheduler: subprocess.Popen[bytes] | None = None
    with plait_server(tmp_path, dags) as (base, _):
        context = browser.new_context(base_url=base, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            page.goto("/workflows/ticker")
            card = page.get_by_test_id("schedule")
            expect(card).to_contain_text("@every 2s")
            expect(card.get_by_test_id("schedule-state")).to_have_text("active")
            card.get_by_role("button", name="Pause schedule").click()
            expect(card.get_by_test_id("schedule-state")).to_contain_text("paused")
            (listed,) = api(base, "GET", "/schedules")["schedules"]
            assert listed["name"] == "ticker" and listed["paused"] is True

            # A scheduler skips its times, each recorded with why; the page shows them.
            scheduler = subprocess.Popen(
                [sys.executable, "-m", "plait", "scheduler"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            skipped = card.get_by_test_id("skipped")
            expect(skipped).to_contain_text("the schedule is paused", timeout=60_000)
            assert api(base, "GET", "/runs?workflow=ticker")["total"] == 0
            shot(page, "43-schedule-paused")

            card.get_by_role("button", name="Resume schedule").click()
            expect(card.get_by_test_id("schedule-state")).to_have_text("active")
            (listed,) = api(base, "GET", "/schedules")["schedules"]
            assert listed["paused"] is False
            assert listed["skipped"][0]["reason"] == "the schedule is paused"
            for _ in range(600):  # the scheduler fires it again
                if api(base, "GET", "/runs?workflow=ticker")["total"]:
                    break
                time.sleep(0.1)
            assert api(base, "GET", "/runs?workflow=ticker")["total"] >= 1
        finally:
            context.close()
            if scheduler is not None:
                scheduler.terminate()
                try:
                    scheduler.wait(20)
                except subprocess.TimeoutExpired:
                    scheduler.kill()
                    scheduler.wait()


def test_a_paused_queue_holds_its_runs_until_it_is_resumed(page: Page, server: str) -> None:
    holder = api(server, "POST", "/workflows/holder/start", {})["runId"]
    page.goto("/queues")
    card = page.locator("[data-queue='holding']")
    expect(card.locator(f"tr[data-run-id='{holder}'] .badge")).to_have_attribute(
        "data-status", "running"
    )
    card.get_by_role("button", name="Pause queue").click()
    expect(card.get_by_test_id("queue-paused")).to_be_visible()
    (queue,) = [q for q in api(server, "GET", "/queues")["queues"] if q["name"] == "holding"]
    assert queue["paused"] is True
    api(server, "POST", f"/runs/{holder}/stop", {})
    wait_final(server, holder)

    # A run started now waits, and the page says why, with its priority.
    held = api(server, "POST", "/workflows/held/start", {})["runId"]
    row = card.locator(f"tr[data-run-id='{held}']")
    expect(row.get_by_test_id("reason")).to_have_text("queue holding is paused")
    expect(row.get_by_test_id("priority")).to_have_text("7")
    assert api(server, "GET", f"/runs/{held}")["status"] == "queued"
    shot(page, "44-queue-paused")

    card.get_by_role("button", name="Resume queue").click()
    expect(card.get_by_test_id("queue-paused")).to_have_count(0)
    assert wait_final(server, held)["status"] == "succeeded"


def test_a_run_links_to_the_runs_it_started_and_back(page: Page, server: str) -> None:
    run_id = api(server, "POST", "/workflows/starter/start", {})["runId"]
    page.goto(f"/runs/{run_id}")
    expect(head_status(page, "failed")).to_be_visible()
    started = page.get_by_test_id("started-runs")
    (link,) = api(server, "GET", f"/runs/{run_id}")["started"]
    assert link["step"] == "kick-off" and link["name"] == "started-report"
    row = started.locator(f"tr[data-run-id='{link['runId']}']")
    expect(row).to_contain_text("kick-off")
    expect(row).to_contain_text("started-report")
    expect(row.locator(".badge")).to_have_attribute("data-status", "succeeded")
    shot(page, "45-started-runs")

    row.get_by_role("link", name=re.compile("→")).click()
    expect(page).to_have_url(re.compile(f"/runs/{link['runId']}$"))
    by = page.get_by_test_id("started-by")
    expect(by).to_contain_text("Started by starter")
    expect(by).to_contain_text("(step kick-off)")
    shot(page, "46-started-by")
    by.get_by_role("link", name=re.compile("starter")).click()
    expect(page).to_have_url(re.compile(f"/runs/{run_id}$"))

    # The items after the failed one never started, and look so.
    page.goto(f"/runs/{run_id}/steps/fan/items")
    table = page.get_by_test_id("items-table")
    for index in (2, 3):
        badge = table.locator(f"tr[data-item='{index}'] .badge")
        expect(badge).to_have_attribute("data-status", "not_started")
        expect(badge).to_contain_text("not started")
    counts = api(server, "GET", f"/runs/{run_id}/children?step=fan")["counts"]
    assert counts == {"succeeded": 1, "failed": 1, "not_started": 2}
    shot(page, "47-items-not-started")


def test_stop_asks_and_offers_to_stop_the_runs_it_started_too(page: Page, server: str) -> None:
    run_id = api(server, "POST", "/workflows/long-starter/start", {})["runId"]
    deadline = time.monotonic() + 60
    started: list[dict] = []  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        started = api(server, "GET", f"/runs/{run_id}")["started"]
        if started and started[0]["status"] == "running":
            break
        time.sleep(0.1)
    (link,) = started
    page.goto(f"/runs/{run_id}")
    page.get_by_role("button", name="■ Stop").click()
    group = page.get_by_role("group", name="confirm stop")
    expect(group).to_contain_text("Stop this run and its children?")
    both = group.get_by_role("button", name="Stop it and the run it started")
    expect(both).to_be_visible(timeout=20_000)
    shot(page, "48-stop-with-started")
    both.click()
    assert wait_final(server, run_id)["status"] == "cancelled"
    assert wait_final(server, link["runId"])["status"] == "cancelled"
    expect(head_status(page, "cancelled")).to_be_visible()


def test_the_start_dialog_follows_typed_params_and_shows_the_servers_refusal(
    page: Page, server: str
) -> None:
    page.goto("/workflows/typed")
    page.get_by_role("button", name="Start…").click()
    dialog = page.get_by_role("dialog")
    count = dialog.locator("[data-param='COUNT']")
    expect(count).to_have_attribute("type", "number")
    expect(dialog.locator("[data-field='COUNT']")).to_contain_text("required")
    expect(dialog.locator("[data-field='COUNT']")).to_contain_text("how many greetings to send")
    mode = dialog.locator("select[data-param='MODE']")
    expect(mode).to_have_value("fast")
    expect(mode.locator("option")).to_have_text(["fast", "slow"])
    expect(dialog.locator("select[data-param='LOUD'] option")).to_have_text(["true", "false"])

    # Nothing given for the required param: the server refuses, naming it, and no run is made.
    dialog.get_by_role("button", name="Start").click()
    expect(dialog.get_by_test_id("start-error")).to_contain_text("param COUNT is required")
    expect(count).to_have_attribute("aria-invalid", "true")
    assert api(server, "GET", "/runs?workflow=typed")["total"] == 0
    shot(page, "48-start-refused")

    count.fill("3")
    mode.select_option("slow")
    dialog.get_by_role("button", name="Start").click()
    expect(page).to_have_url(re.compile(r"/runs/[^/]+$"))
    expect(head_status(page, "succeeded")).to_be_visible()
    run = api(server, "GET", f"/runs/{run_id_of(page)}")
    assert run["params"]["COUNT"] == "3" and run["params"]["MODE"] == "slow"
    page.locator("tr[data-step='greet'] a", has_text="stdout").click()
    expect(page.get_by_test_id("log")).to_contain_text("count=3 mode=slow loud=false")
