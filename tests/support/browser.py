"""A real browser against the app: Debian's headless Chromium, JavaScript switched off, driving
`chalice local`'s server run in a thread on the in-process moto of the `aws` fixture (moto's
mock is process-wide, so the server thread sees it). The `browser` and `server` fixtures
(registered for every test in tests/conftest.py) and what tests do with a page.

`make test` installs chromium and chromium-driver first (as root). Without them the tests
skip saying what to install, except on CI (CI set), where they must run and so fail.
Selenium is given /usr/bin/chromedriver explicitly, so Selenium Manager downloads nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def _require_browser() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -r requirements-dev.txt)")
    if missing:
        reason = f"headless Chromium is not installed ({', '.join(missing)} missing); as root: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cohort-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # The page must work without JavaScript: the browser runs none.
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def server(client: Any) -> Iterator[str]:
    """`chalice local`'s HTTP server for app.py on a free port, in a thread."""
    from chalice.cli.factory import CLIFactory
    from chalice.local import create_local_server

    from app import app

    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="local")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app_class = app.__class__
    http = create_local_server(app, config, "127.0.0.1", port)  # swaps app's class; put back below
    thread = threading.Thread(target=http.server.serve_forever, name="form-browser-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        http.shutdown()
        thread.join(5)
        http.server.server_close()
        app.__class__ = app_class


def field(driver: Any, label: str) -> Any:
    """The input a visible label names (what a person, or a screen reader, goes by)."""
    from selenium.webdriver.common.by import By

    target = driver.find_element(By.XPATH, f"//label[normalize-space()='{label}']").get_attribute("for")
    return driver.find_element(By.ID, target)


def submit(driver: Any) -> None:
    """Click the button and wait until the browser has left the page (the answer loaded)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.wait import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, 15).until(staleness_of(page))


def heading(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "h1").text
