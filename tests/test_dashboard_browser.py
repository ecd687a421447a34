"""The dashboard in a real browser (issue 15): `woonsim dashboard` serves the tiny region on
a free port of 127.0.0.1, and Debian's chromium, driven by the pip playwright package (no
browser download), changes a lever, resets, runs the burn-in, steps the model, sees the
figures change, and resets again with the lever kept. Every request stays on 127.0.0.1 and
none fails (every asset is served locally). CI installs chromium (.ci/run); elsewhere the
test is skipped, with the reason, when chromium is missing."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from woonsim_cli import commands

DATA = Path(__file__).resolve().parent / "data"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 60_000


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI: {reason}")
        pytest.skip(reason)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            pytest.fail(f"woonsim dashboard exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"woonsim dashboard did not answer in {timeout:.0f} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`woonsim dashboard` on the tiny region and a tiny experiment's results folder."""
    root = tmp_path_factory.mktemp("dashboard")
    argv = ["experiment", str(DATA / "tiny_experiment.yaml"), "--out", str(root / "tiny")]
    assert commands.main([*argv, "--workers", "1", "--no-report"]) == 0
    port = _free_port()
    log = root / "server.log"
    woonsim = Path(sys.executable).with_name("woonsim")
    cmd = [str(woonsim), "dashboard", "--scenario", str(DATA / "tiny_region.yaml")]
    cmd += ["--results", str(root), "--port", str(port)]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/", proc, log)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # a loaded CI machine draws slowly

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


SEEN: dict[str, list] = {"hosts": [], "failed": []}


def _request(r) -> None:
    if "://" in r.url:
        SEEN["hosts"].append(r.url.split("/")[2])


def _response(r) -> None:
    if r.status >= 400:
        SEEN["failed"].append((r.status, r.url))


@pytest.fixture
def page(browser):
    """A page whose requests' hosts and failed responses are recorded in SEEN."""
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.set_default_timeout(TIMEOUT_MS)
    SEEN["hosts"], SEEN["failed"] = [], []
    page.on("request", _request)
    page.on("response", _response)
    yield page
    page.close()


def _local_only(url: str) -> None:
    hosts = set(SEEN["hosts"])
    assert hosts == {url.split("/")[2]}, hosts  # nothing from a CDN or a tile server
    assert SEEN["failed"] == [], SEEN["failed"]


def test_live_view_in_chromium(server, page):
    from playwright.sync_api import expect

    page.goto(server + "/")
    page.get_by_role("button", name="Run the burn-in").wait_for()
    expect(page.locator(".woonsim-year")).to_have_text("2024")
    assert page.locator(".woonsim-groups").count() == 0  # no measures during the burn-in

    # a lever: quota mode floor at 40%, applied by Reset
    mode = page.locator(".v-input").filter(has=page.get_by_text("quota: mode", exact=True))
    mode.click()
    page.locator(".v-menu__content .v-list-item", has_text=re.compile(r"^floor$")).click()
    share = page.locator(".v-input").filter(has=page.get_by_text("quota: share", exact=True))
    thumb = share.locator("[role=slider]")
    thumb.focus()
    for _ in range(8):  # steps of 0.05
        thumb.press("ArrowRight")
    expect(thumb).to_have_attribute("aria-valuenow", "0.4")
    expect(page.locator(".woonsim-changed")).to_contain_text("none")
    page.get_by_role("button", name="Reset").click()
    expect(page.locator(".woonsim-changed")).to_contain_text("quota: mode = floor")
    expect(page.locator(".woonsim-changed")).to_contain_text("quota: share = 0.4")

    # the burn-in with its button, then steps: the figures come and change
    page.get_by_role("button", name="Run the burn-in").click()
    page.get_by_text("The burn-in is done").wait_for()
    page.get_by_role("button", name="Step").click()
    expect(page.locator(".woonsim-year")).to_have_text("2026")
    groups = page.locator(".woonsim-groups")
    groups.wait_for()
    figure = page.locator(".woonsim-figure-groups img")
    text1, png1 = groups.inner_text(), figure.screenshot()
    assert re.search(r"starters\s+\d+\.\d\d", text1)  # numbers, not n/a
    page.get_by_role("button", name="Step").click()
    expect(page.locator(".woonsim-year")).to_have_text("2027")
    expect(groups).not_to_have_text(text1)
    expect(page.get_by_text("Reported window 2025–2026")).to_be_visible()
    assert figure.screenshot() != png1
    assert page.locator(".woonsim-figure-map img").count() == 1

    # Reset keeps the lever: on the slider, the select and the new model
    page.get_by_role("button", name="Reset").click()
    expect(page.locator(".woonsim-year")).to_have_text("2024")
    expect(thumb).to_have_attribute("aria-valuenow", "0.4")
    expect(mode).to_contain_text("floor")
    expect(page.locator(".woonsim-changed")).to_contain_text("quota: share = 0.4")
    _local_only(server)


def test_results_view_in_chromium(server, page):
    from playwright.sync_api import expect

    page.goto(server + "/results")
    table = page.locator(".woonsim-differences")
    expect(table).to_contain_text("30% floor")
    expect(table).to_contain_text("50% ring-fenced")
    assert re.search(r"30% floor\s+\S+\s+\S+\s+-?\d+\.\d{3}", table.inner_text())
    page.locator(".woonsim-figure-map img").wait_for()
    page.locator(".woonsim-figure-differences img").wait_for()
    _local_only(server)
