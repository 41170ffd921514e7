"""`--ckpt` names a file, a bundled model, or a URL with its digest (downloaded once from a loopback server)."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_studio_here
from tiny_runs import trained

from studio.errors import StudioError
from studio.generation import Generator, references
from studio.generation.references import bundle_names, resolve_checkpoint


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[dict]:
    """tmp_path/www on 127.0.0.1, and the paths the server was asked for."""
    www = tmp_path / "www"
    www.mkdir()
    asked: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def log_message(self, format: str, *args) -> None:
            asked.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield {"www": www, "base": f"http://127.0.0.1:{httpd.server_address[1]}", "asked": asked}
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.slow
def test_a_checkpoint_url_is_downloaded_once_checked_and_loaded_like_a_file(
    served: dict, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = trained("text", tmp_path_factory)
    shutil.copy(run["ckpt"], served["www"] / "shared.ckpt")
    digest = hashlib.sha256((served["www"] / "shared.ckpt").read_bytes()).hexdigest()
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    url = f"{served['base']}/shared.ckpt#sha256={digest}"
    texts = Generator.from_checkpoint(url).text(length=20, seed=2)
    assert texts == Generator.from_checkpoint(run["ckpt"]).text(length=20, seed=2)
    assert Generator.from_checkpoint(url).path.parent.name == f"shared-{digest[:12]}"  # samples go under that name
    assert served["asked"] == ["/shared.ckpt"]  # the second load read the cache
    with pytest.raises(StudioError, match="SHA-256"):
        resolve_checkpoint(f"{served['base']}/shared.ckpt#sha256={'0' * 64}")
    with pytest.raises(StudioError, match="gives no digest"):
        resolve_checkpoint(f"{served['base']}/shared.ckpt")
    assert resolve_checkpoint((served["www"] / "shared.ckpt").as_uri()) == served["www"] / "shared.ckpt"


def test_an_unknown_name_lists_the_bundled_models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(references, "BUNDLES", tmp_path)
    (tmp_path / "tiny-one").mkdir()
    (tmp_path / "tiny-one" / "card.json").write_text("{}")
    (tmp_path / "tiny-one" / "model.ckpt").write_bytes(b"")
    with pytest.raises(StudioError) as caught:
        resolve_checkpoint("tiny-on")
    assert "tiny-on is neither a checkpoint file nor a bundled model" in str(caught.value)
    assert "the bundled models are tiny-one" in str(caught.value) and "\n" not in str(caught.value)
    assert resolve_checkpoint("tiny-one") == tmp_path / "tiny-one" / "model.ckpt"
    assert resolve_checkpoint("checkpoints/x/last.ckpt") == Path("checkpoints/x/last.ckpt")  # a path stays a path


def test_a_damaged_bundle_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, studio_env: dict
) -> None:
    bundles = tmp_path / "bundles"
    (bundles / "broken").mkdir(parents=True)
    (bundles / "broken" / "card.json").write_text("{}")
    (bundles / "broken" / "model.ckpt").write_bytes(b"not a checkpoint")
    monkeypatch.setattr(references, "BUNDLES", bundles)
    result = run_studio_here(["sample", "--ckpt", "broken"], tmp_path, studio_env)
    assert_one_line_error(result, "broken/model.ckpt", "cannot be read")


@pytest.mark.parametrize("name", bundle_names())
def test_every_shipped_bundle_matches_its_card_and_runs(name: str, tmp_path: Path) -> None:
    folder = references.BUNDLES / name
    card = json.loads((folder / "card.json").read_text())
    data = (folder / "model.ckpt").read_bytes()
    assert card["name"] == name and hashlib.sha256(data).hexdigest() == card["sha256"]
    assert len(data) <= 6e6 and abs(len(data) / 1e6 - card["size_mb"]) < 0.01
    generator = Generator.from_checkpoint(name)
    assert generator.task.name == card["task"] and card["held_out"]
    if card["weights"] == "float16":
        assert abs(card["float16_loss_change"]) <= 0.01
    run = {
        "text": lambda: generator.text(prompt="The ", length=40, seed=1)[0],
        "midi": lambda: generator.midi(seconds=3, seed=1)[0].notes,
        "classification": lambda: generator.classify("Ich weiß nicht, was soll es bedeuten").label,
        "text_tagging": lambda: generator.tag("my dear brother , la sua vita").labels,
        "speech_tagging": lambda: generator.tag(_a_clip(tmp_path)),
    }[card["task"]]
    assert run()


def _a_clip(folder: Path) -> Path:
    """One utterance of the embedded speech-like corpus."""
    from datamodules import synthetic_speech

    return next(synthetic_speech.generate(folder / "corpus", n_speakers=1, utts_per_speaker=1, seed=5).rglob("*.wav"))
