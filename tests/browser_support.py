"""What the browser tests share: the system's Chromium and ChromeDriver, `studio serve` in a subprocess, waiting.

Nothing downloads a browser or a driver: both are Debian's (`make test` installs them where it may).
A test module calls `require_chromium()` at its top, which skips it, with the reason, where either is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, CHROMEDRIVER = (
    shutil.which("chromium") or "/usr/bin/chromium",
    shutil.which("chromedriver") or "/usr/bin/chromedriver",
)
BASE_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000")


def require_chromium() -> Any:
    """Selenium's webdriver module; skips the calling test module where Chromium or its driver is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(
            "Chromium and ChromeDriver are not installed: `apt-get install chromium chromium-driver` (make test does it)",
            allow_module_level=True,
        )
    return webdriver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(root: Path, token: str) -> Iterator[str]:
    """`studio serve` on 127.0.0.1 from `root` (its checkpoints/ and samples/), with `token`; yields its origin."""
    port, log = free_port(), root / "serve.log"
    with open(log, "w", encoding="utf-8") as output:  # a file, not a pipe: the server never waits on a full pipe
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("studio")), "serve", "--port", str(port), "--token", token],
            cwd=root,
            env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1"),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "Studio is at" not in log.read_text(encoding="utf-8"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"studio serve did not start: {log.read_text(encoding='utf-8')[-2000:]}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


@contextmanager
def chromium(*flags: str) -> Iterator[Any]:
    """A headless Chromium driven by ChromeDriver, with `flags` beside the usual ones."""
    webdriver = require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BASE_FLAGS, *flags):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: Any, condition: Callable[[Any], Any], timeout: float = 60, poll: float = 0.1) -> Any:
    """Wait for `condition`; an element the page rebuilt meanwhile (stale) or has not drawn yet is looked up again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, poll_frequency=poll, ignored_exceptions=ignored).until(condition)
