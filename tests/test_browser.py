"""The web studio in a real browser: Debian's headless Chromium, driven by Selenium, against the real `studio serve`.

Skipped, with the reason, where Chromium or ChromeDriver is not installed (`make test` installs them
where it may). Nothing downloads a browser or a driver: both are the system's.
"""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pytest
from browser_support import chromium, require_chromium, serving
from browser_support import until as _until
from conftest import run_studio_here
from tiny_runs import TINY_MIDI_FIT, trained

require_chromium()
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from studio.training.metrics_file import COLUMNS, METRICS_FILE, write_status  # noqa: E402

TOKEN = "browser-test"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """`studio serve` on 127.0.0.1 over tiny runs of every task (and a steered MIDI run); its URL and a clip to tag."""
    root = tmp_path_factory.mktemp("browser")
    for task in ("text", "midi", "tagger", "classifier", "word_tagger"):
        shutil.copytree(trained(task, tmp_path_factory)["ckpt"].parent, root / "checkpoints" / task)
    midi = trained("midi", tmp_path_factory)
    controls = ["--data.init_args.controls", "[density, pitch_histogram]", "--trainer.logger", "false"]
    songs = ["--data.init_args.paths", str(midi["work"] / "songs"), "--run_name", "steered"]
    fit = run_studio_here([*TINY_MIDI_FIT, *controls, *songs], root, midi["env"])
    assert fit.returncode == 0, fit.stderr[-3000:]
    clip = sorted((trained("tagger", tmp_path_factory)["work"] / "corpus").glob("*/U000.wav"))[0]
    with serving(root, TOKEN) as origin:
        yield {"url": f"{origin}/?token={TOKEN}", "clip": clip, "root": root}


@pytest.fixture(scope="module")
def browser():
    # A fake microphone (a beep) that needs no permission prompt, for the Record button.
    with chromium("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream") as driver:
        yield driver


def _choose(driver, run: str) -> None:
    _until(driver, lambda d: d.find_element(By.CSS_SELECTOR, f'#runs tr[data-run="{run}"]').click() or True, 10)


def _points(driver, series: str) -> int:
    """How many points the loss chart draws for `series` ("midi val"); 0 when it draws none."""
    lines = driver.find_elements(By.CSS_SELECTOR, f'#loss-chart polyline[data-name="{series}"]')
    return len(lines[0].get_attribute("points").split()) if lines else 0


def _log(folder: Path, step: int, values: dict[str, float]) -> None:
    """Append rows to the run's metrics file, as a training run does while the page watches."""
    with open(folder / METRICS_FILE, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        for name, value in values.items():
            writer.writerow({"step": step, "epoch": 0, "name": name, "value": value, "time": time.time()})


def _set(driver, element_id: str, value: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


@pytest.mark.slow
def test_generate_listen_tag_and_watch_in_the_browser(served: dict, browser, tmp_path: Path) -> None:
    browser.get(served["url"])
    _until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr:not([data-bundle])")) == 6)
    assert not browser.find_element(By.ID, "error").is_displayed()

    # MIDI: a piece with a playable WAV and a piano roll drawn from its notes.
    _choose(browser, "midi")
    Select(browser.find_element(By.ID, "checkpoint")).select_by_value("best")
    assert browser.find_element(By.ID, "chosen").text == "midi (best)"
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
    assert len(notes) > 2
    # The playhead follows the audio; a note shows its pitch, time and velocity on hover.
    playhead = lambda d: float(d.find_element(By.CSS_SELECTOR, "#output .piano-roll .playhead").get_attribute("x1"))
    at_start = playhead(browser)
    browser.execute_script("const a = document.querySelector('#output audio'); a.currentTime = a.duration / 2")
    _until(browser, lambda d: playhead(d) > at_start + 200, 10)  # halfway along a roll 1000 wide
    widest = max(notes, key=lambda note: float(note.get_attribute("width")))
    ActionChains(browser).move_to_element(widest).perform()
    tooltip = _until(
        browser, lambda d: d.find_element(By.ID, "tooltip").is_displayed() and d.find_element(By.ID, "tooltip"), 10
    )
    assert "velocity" in tooltip.text and " s" in tooltip.text

    # A run trained with controls offers them: note density, and pitch-class weights with presets.
    assert not browser.find_element(By.ID, "midi-pitch").is_displayed()  # the first run has none
    _choose(browser, "steered")
    _until(browser, lambda d: d.find_element(By.ID, "midi-pitch").is_displayed(), 10)
    browser.find_element(By.ID, "midi-density-on").click()
    browser.find_element(By.CSS_SELECTOR, '[data-preset="2,0,1,0,1,1,0,1,0,1,0,1"]').click()  # C major
    keys = browser.find_elements(By.CSS_SELECTOR, "#midi-keys input")
    assert [key.get_attribute("value") for key in keys][:3] == ["2", "0", "1"] and len(keys) == 12
    browser.find_element(By.ID, "midi-generate").click()
    browser.find_element(By.CSS_SELECTOR, '[data-tab="history"]').click()
    _until(browser, lambda d: "pitch classes 2,0,1,0,1,1,0,1,0,1,0,1" in d.find_element(By.ID, "history").text)
    assert "6 notes/s" in browser.find_element(By.ID, "history").text  # the server generated with both controls
    browser.find_element(By.CSS_SELECTOR, '[data-tab="generate"]').click()

    # Text: it streams in (seen while the request is still running), and Stop keeps what came.
    _choose(browser, "text")  # a run too short to have a best checkpoint: its last one is used
    assert browser.find_element(By.CSS_SELECTOR, '#checkpoint option[value="best"]').get_attribute("disabled")
    assert browser.find_element(By.ID, "chosen").text == "text (last)"
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
    browser.find_element(By.CSS_SELECTOR, "#history li button").click()  # replay the newest
    replayed = _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#history-view pre.text-sample"), 10)
    assert replayed[0].get_attribute("textContent").startswith(shown)  # what was saved holds what was shown

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

    # Runs: a run being trained is marked, and its loss curves follow its metrics file as it grows.
    folder = served["root"] / "checkpoints" / "midi"
    write_status(folder, "training")  # by this process, which is alive
    browser.get(served["url"])
    _until(browser, lambda d: "training" in d.find_element(By.CSS_SELECTOR, '#runs tr[data-run="midi"]').text)
    _choose(browser, "midi")
    browser.find_element(By.CSS_SELECTOR, '[data-tab="metrics"]').click()
    _until(browser, lambda d: d.find_element(By.ID, "live").is_displayed() and _points(d, "midi train") > 0, 10)
    validations = _points(browser, "midi val")
    _log(folder, 50, {"val_loss": 3.5, "samples/pitch_range": 12.0})
    _log(folder, 60, {"samples/pitch_range": 15.0})
    _until(browser, lambda d: _points(d, "midi val") == validations + 1, 15)  # without reloading the page
    # A second run overlaid, in colours of its own, named in the legend: only runs whose loss has the same
    # unit are offered (the other MIDI run, not the text run's loss per character).
    offered = [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "compare-run")).options]
    assert "steered" in offered and "text" not in offered and "bach-chorales" in offered, offered
    assert "loss (nats per event)" in browser.find_element(By.ID, "loss-chart").text
    Select(browser.find_element(By.ID, "compare-run")).select_by_value("steered")
    _until(browser, lambda d: _points(d, "steered train") > 0, 10)
    lines = browser.find_elements(By.CSS_SELECTOR, "#loss-chart polyline")
    assert len({line.get_attribute("stroke") for line in lines}) == len(lines) >= 3
    assert "steered train" in browser.find_element(By.ID, "loss-chart").text
    # Any other series the runs log can be drawn instead of the loss.
    _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#metric option[value="samples/pitch_range"]'), 15)
    Select(browser.find_element(By.ID, "metric")).select_by_value("samples/pitch_range")
    _until(browser, lambda d: _points(d, "midi samples/pitch_range") == 2, 10)
    # The run ends: the page stops watching it.
    write_status(folder, "finished")
    _until(browser, lambda d: not d.find_element(By.ID, "live").is_displayed(), 15)
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


@pytest.mark.slow
def test_classify_and_tag_text_in_the_browser(served: dict, browser, tmp_path: Path) -> None:
    browser.get(served["url"])
    _until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr:not([data-bundle])")) == 6)
    task = browser.find_element(By.CSS_SELECTOR, '#runs tr[data-run="classifier"] .task').text
    assert task == "classification"  # the task's title, from its record

    # Classification: pasted text gets a bar per class, the predicted one marked.
    _choose(browser, "classifier")
    assert browser.find_element(By.ID, "classify-panel").is_displayed()
    assert not browser.find_element(By.ID, "text-panel").is_displayed()
    _set(browser, "classify-text", "Nel mezzo del cammin di nostra vita mi ritrovai per una selva oscura")
    browser.find_element(By.ID, "classify-generate").click()
    bars = _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#class-bars-0 li"))
    assert len(bars) == 6
    shares = [float(bar.get_attribute("data-p")) for bar in bars]
    assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 1) < 0.01
    predicted = browser.find_element(By.CSS_SELECTOR, "#class-bars-0 li.predicted")
    assert predicted == bars[0]
    # A dropped file is classified the same way.
    review = tmp_path / "review.txt"
    review.write_text("Ihr naht euch wieder, schwankende Gestalten", encoding="utf-8")
    browser.find_element(By.ID, "classify-file").send_keys(str(review))
    browser.find_element(By.ID, "classify-generate").click()
    _until(browser, lambda d: "review.txt" in d.find_element(By.ID, "output").text)

    # Text tagging: each pasted line's words, coloured by tag, each word's tag on it.
    _choose(browser, "word_tagger")
    assert browser.find_element(By.ID, "words-panel").is_displayed()
    _set(browser, "words-text", "my dear brother , dentro la sua vita\nMein Busen fühlt sich")
    browser.find_element(By.ID, "words-generate").click()
    words = _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tagged-0 .word"))
    assert [w.text for w in words] == ["my", "dear", "brother", ",", "dentro", "la", "sua", "vita"]
    assert all(w.get_attribute("data-label") for w in words)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#tagged-1 .word")) == 4
    browser.find_element(By.CSS_SELECTOR, '[data-tab="history"]').click()
    _until(browser, lambda d: "text tagging:" in d.find_element(By.ID, "history").text)
    assert not browser.find_element(By.ID, "error").is_displayed()
    browser.save_screenshot(str(tmp_path / "tagging.png"))
