"""Serve the built site on 127.0.0.1 and drive Debian's Chromium with Playwright
(no browser download)."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from helpers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site_url(built_site):
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            "BROWSER TESTS SKIPPED: /usr/bin/chromium is missing "
            "(scripts/setup installs Debian's chromium as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site_url):
    """A fresh page that records every request's host and every console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=site_url.rstrip("/")
    )
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on(
        "console",
        lambda message: (
            page.errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
