"""The web UI in a real browser: Debian's chromium driven by Playwright, against a real server.

A ``plait server`` runs on a free loopback port with a fresh PLAIT_HOME and, as its DAGs folder,
a copy of ``examples/`` plus three workflows written here (a long sleep to stop, a step that fails
once to retry, a step that prints ``<script>``). Every page visited is saved as a screenshot in
``test-output/screenshots/`` for a person to look at.

Nothing here is skipped: without ``/usr/bin/chromium`` (``scripts/test.sh`` installs it) or
without the built UI (``scripts/setup.sh`` builds it) the tests fail and say so.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import ROOT

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    port = _free_port()
    env = {**os.environ, "PLAIT_HOME": str(root / "home"), "PLAIT_DAGS_DIR": str(dags)}
    log = (root / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "plait", "server", "--port", str(port)],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/workflows", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"plait server did not start:\n{(root / 'server.log').read_text()}")
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
    expect(grid.locator("button.hcell.s-ok")).to_have_count(2)
    shot(page, "08-history")
    grid.locator("button.hcell").first.click()
    expect(page).to_have_url(re.compile(f"/runs/{root_id}"))

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
