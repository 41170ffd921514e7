"""Playing with a MIDI model in the web studio, in a real browser: Debian's headless Chromium, driven by
Selenium, against the real `studio serve` and the bundled bach-chorales model (no training needed).

Headless Chromium has an AudioContext (its clock runs without a sound card), so the page's synth and
the scheduling of the model's answer are real; `window.studioLive` counts what was fed to it. A Web MIDI message cannot
be injected here: Chromium offers no virtual MIDI port, and on a machine without an ALSA sequencer
(a container) `requestMIDIAccess` fails even with the permission granted, which the page must say.
So the page's MIDI message handler is called directly with the messages a keyboard sends.

Skipped, with the reason, where Chromium or ChromeDriver is not installed, as tests/test_browser.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pretty_midi
import pytest
from browser_support import chromium, require_chromium, serving
from browser_support import until as _until

require_chromium()
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

TOKEN = "live-test"
MODEL_COLOUR = (0xE0, 0x7A, 0x1F)  # live.js draws the model's notes in it, the person's in blue
COLOURED = """
const canvas = document.getElementById('play-roll');
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let n = 0;
for (let i = 0; i < data.length; i += 4) if (data[i] === arguments[0] && data[i + 1] === arguments[1] && data[i + 2] === arguments[2]) n++;
return n;
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """`studio serve` on 127.0.0.1 with an empty checkpoints folder: only the bundled models are listed."""
    root = tmp_path_factory.mktemp("live")
    (root / "checkpoints").mkdir()
    with serving(root, TOKEN) as origin:
        yield {"origin": origin, "url": f"{origin}/?token={TOKEN}", "root": root}


@pytest.fixture(scope="module")
def browser():
    with chromium("--autoplay-policy=no-user-gesture-required") as driver:
        yield driver


def _set(driver, element_id: str, value: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def _counts(driver) -> dict:
    return driver.execute_script("return window.studioLive")


def _status(driver) -> str:
    return driver.find_element(By.ID, "play-status").text


def _key(driver, pitch: int):
    return driver.find_element(By.CSS_SELECTOR, f'#play-piano [data-pitch="{pitch}"]')


@pytest.mark.slow
def test_play_a_phrase_and_the_model_answers_in_the_browser(served: dict, browser, tmp_path: Path) -> None:
    midi = {"origin": served["origin"], "permissions": ["midi", "midiSysex"]}  # no prompt: the platform answers
    browser.execute_cdp_cmd("Browser.grantPermissions", midi)
    browser.get(served["url"])
    _until(browser, lambda d: d.find_element(By.CSS_SELECTOR, '#runs tr[data-run="bach-chorales"]').click() or True)
    assert browser.find_element(By.ID, "play-panel").is_displayed()  # a MIDI run: the Play panel is offered
    browser.find_element(By.CSS_SELECTOR, "#play summary").click()
    # No MIDI keyboard here: the page says so (or why Web MIDI is not available), and the keys still play.
    midi_note = _until(browser, lambda d: d.find_element(By.ID, "play-midi").text, 10)
    assert "no MIDI keyboard" in midi_note or "Web MIDI is not available" in midi_note
    _set(browser, "play-pause", "700")  # longer than a Selenium round trip between two keys of the phrase
    _set(browser, "play-length", "3")
    _set(browser, "play-seed", "2")
    browser.find_element(By.ID, "play-start").click()
    _until(browser, lambda d: _status(d).startswith("listening"))

    # A phrase: three on-screen keys (each lit while held), then two computer keys (T = G4, I = C5).
    for pitch in (60, 64, 67):
        ActionChains(browser).click_and_hold(_key(browser, pitch)).perform()
        assert "down" in _key(browser, pitch).get_attribute("class")
        ActionChains(browser).pause(0.1).release().perform()
        assert "down" not in _key(browser, pitch).get_attribute("class")
    ActionChains(browser).key_down("t").pause(0.15).key_up("t").key_down("i").pause(0.3).key_up("i").perform()
    assert _counts(browser)["played"] == 5 and _counts(browser)["sent"]["note_on"] == 5

    # The answer: notes scheduled on the audio clock, sounding, and drawn in the model's colour.
    _until(browser, lambda d: _counts(d)["heard"] >= 2, 30)
    assert "answering" in _status(browser)
    assert browser.execute_script(COLOURED, *MODEL_COLOUR) > 50
    time.sleep(1)  # more of the answer in the picture (it lasts 3 s)
    browser.find_element(By.ID, "play-panel").screenshot(str(tmp_path / "live.png"))
    assert (tmp_path / "live.png").stat().st_size > 10_000

    # Playing over the answer stops it in the page at once, before the server's `cut` comes.
    scheduled = _counts(browser)["scheduled"]
    ActionChains(browser).key_down("e").pause(0.2).key_up("e").perform()
    assert _counts(browser)["cut"] == 1
    _until(browser, lambda d: "played over" in _status(d), 10)
    # A MIDI keyboard's messages: note on, note on with velocity 0 (an off), the sustain pedal.
    browser.execute_script("liveMidiMessage({data: [0x90, 62, 100]})")
    assert "down" in _key(browser, 62).get_attribute("class")
    browser.execute_script("liveMidiMessage({data: [0xB0, 64, 127]}); liveMidiMessage({data: [0x91, 62, 0]})")
    assert "down" not in _key(browser, 62).get_attribute("class")
    browser.execute_script("liveMidiMessage({data: [0xB0, 64, 0]})")
    sent = _counts(browser)["sent"]
    assert sent["note_on"] == 7 and sent["note_off"] == 7 and sent["pedal"] == 2
    _until(browser, lambda d: _counts(d)["scheduled"] > scheduled, 30)  # the model answers the new phrase

    # Save: the duet as a two-track MIDI generation, linked in the panel and listed in the history.
    browser.find_element(By.ID, "play-save").click()
    _until(browser, lambda d: "sample_1.mid" in d.find_element(By.ID, "play-saved").text, 30)
    _until(browser, lambda d: "MIDI" in d.find_element(By.ID, "history").get_attribute("textContent"), 10)
    folders = list((served["root"] / "samples" / "bach-chorales").glob("duet-*"))
    assert len(folders) == 1
    person, model = pretty_midi.PrettyMIDI(str(folders[0] / "sample_1.mid")).instruments
    assert [note.pitch for note in person.notes] == [60, 64, 67, 67, 72, 64, 62]
    assert model.notes

    # A setting the server refuses shows its one line; Stop ends the duet.
    _set(browser, "play-temperature", "-1")
    browser.find_element(By.ID, "play-seed").click()  # leaving the field sends the settings
    _until(browser, lambda d: "temperature" in _status(d), 10)
    browser.find_element(By.ID, "play-start").click()
    _until(browser, lambda d: _status(d).startswith("stopped"), 10)
    assert not browser.find_element(By.ID, "error").is_displayed()
