"""The web studio in a real browser: Debian's headless Chromium, driven by Selenium, against the real `studio serve`.

Skipped, with the reason, where Chromium or ChromeDriver is not installed (`make test` installs them
where it may). Nothing downloads a browser or a driver: both are the system's.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_runs import trained

CHROMIUM, CHROMEDRIVER = (
    shutil.which("chromium") or "/usr/bin/chromium",
    shutil.which("chromedriver") or "/usr/bin/chromedriver",
)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "Chromium and ChromeDriver are not installed: `apt-get install chromium chromium-driver` (make test does it)",
        allow_module_level=True,
    )

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TOKEN = "browser-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """`studio serve` on 127.0.0.1 over a tiny text, MIDI and tagging run; its URL and a clip to tag."""
    root = tmp_path_factory.mktemp("browser")
    for task in ("text", "midi", "tagger"):
        shutil.copytree(trained(task, tmp_path_factory)["ckpt"].parent, root / "checkpoints" / task)
    clip = sorted((trained("tagger", tmp_path_factory)["work"] / "corpus").glob("*/U000.wav"))[0]
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("studio")), "serve", "--port", str(port), "--token", TOKEN],
        cwd=root,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None and "Studio is at" in server.stderr.readline()
    try:
        yield {"url": f"http://127.0.0.1:{port}/?token={TOKEN}", "clip": clip, "root": root}
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    flags = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000")
    # A fake microphone (a beep) that needs no permission prompt, for the Record button.
    fake_microphone = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")
    for flag in (*flags, *fake_microphone):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _until(driver, condition, timeout: float = 60):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _choose(driver, run: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#runs tr[data-run="{run}"]').click()


def _set(driver, element_id: str, value: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


@pytest.mark.slow
def test_generate_listen_tag_and_watch_in_the_browser(served: dict, browser, tmp_path: Path) -> None:
    browser.get(served["url"])
    _until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 3)
    assert not browser.find_element(By.ID, "error").is_displayed()

    # MIDI: a piece with a playable WAV and a piano roll drawn from its notes.
    _choose(browser, "midi")
    _set(browser, "midi-seconds", "3")
    browser.find_element(By.ID, "midi-generate").click()
    _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#output .piano-roll rect.note"))
    duration = _until(
        browser,
        lambda d: d.execute_script(
            "const a = document.querySelector('#output audio'); return a && a.duration > 0 && a.duration"
        ),
    )
    assert duration > 0
    notes = browser.find_elements(By.CSS_SELECTOR, "#output .piano-roll rect.note")
    assert len(notes) > 2 and "velocity" in notes[0].find_element(By.TAG_NAME, "title").get_attribute("textContent")

    # Text: it streams in (seen while the request is still running), and Stop keeps what came.
    _choose(browser, "text")
    _set(browser, "text-length", "10000")
    _set(browser, "text-num", "4")
    browser.find_element(By.ID, "text-generate").click()
    _until(
        browser,
        lambda d: (
            len(d.execute_script("const p = document.getElementById('text-sample-0'); return p ? p.textContent : ''"))
            > 20
        ),
    )
    assert browser.find_element(By.ID, "text-stop").is_enabled()  # still streaming
    browser.find_element(By.ID, "text-stop").click()
    _until(browser, lambda d: d.find_element(By.ID, "text-generate").is_enabled())
    shown = browser.execute_script("return document.getElementById('text-sample-0').textContent")
    assert shown.startswith("The ") and len(shown) < 10004
    browser.find_element(By.CSS_SELECTOR, '[data-tab="history"]').click()
    _until(browser, lambda d: "stopped early" in d.find_element(By.ID, "history").text)

    # Tagging: an uploaded WAV gets labels on a timeline.
    browser.find_element(By.CSS_SELECTOR, '[data-tab="generate"]').click()
    _choose(browser, "tagger")
    browser.find_element(By.ID, "tag-file").send_keys(str(served["clip"]))
    browser.find_element(By.ID, "tag-generate").click()
    _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tag-labels .label"))
    assert browser.find_elements(By.CSS_SELECTOR, "#output .waveform path")
    # Recording from the (fake) microphone: encoded as WAV in the page, uploaded and tagged the same way.
    browser.execute_script("document.getElementById('output').replaceChildren()")
    browser.find_element(By.ID, "tag-record").click()
    _until(browser, lambda d: d.find_element(By.ID, "tag-record").text == "Stop recording", 10)
    time.sleep(1.5)
    browser.find_element(By.ID, "tag-record").click()
    _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#output .waveform path"))
    assert "recording.phn" in browser.find_element(By.ID, "output").text  # named after the recording

    # Runs: the loss curve from the run's metrics.csv.
    _choose(browser, "midi")
    browser.find_element(By.CSS_SELECTOR, '[data-tab="metrics"]').click()
    _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#loss-chart polyline"))
    assert not browser.find_element(By.ID, "error").is_displayed()

    shot = tmp_path / "studio.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    # A request the server refuses shows its one-line reason in the page.
    browser.find_element(By.CSS_SELECTOR, '[data-tab="generate"]').click()
    _choose(browser, "text")
    _set(browser, "text-temperature", "-1")
    browser.find_element(By.ID, "text-generate").click()
    _until(browser, lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "temperature" in browser.find_element(By.ID, "error").text
