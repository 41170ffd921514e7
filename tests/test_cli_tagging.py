"""End to end through the real `studio` command: fit a tagger, test it, tag audio with it, and bad inputs."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import lightning as L
import pytest
import soundfile
import torch
from conftest import run_studio_here, tiny_tagger_fit

from datamodules import synthetic_speech
from datamodules.text import TextDataModule
from studio.models import RecurrentLanguageModel
from studio.training.checkpoint_io import StudioMetadata

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "tagging" / "quickstart.yaml"
TIME_LINE = re.compile(r"^\s+(\d+\.\d{3})\s+(\d+\.\d{3})\s+(\S+)$", re.M)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A folder with a tiny TIMIT-style corpus, and the environment for CLI runs (caches inside, W&B offline)."""
    folder = tmp_path_factory.mktemp("tagging")
    synthetic_speech.generate(folder / "corpus", n_speakers=4, utts_per_speaker=3, seed=3)
    # One thread: the models are tiny, and on a busy machine threads only stall each other.
    env = dict(
        os.environ,
        STUDIO_CACHE=str(folder / "cache"),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
    )
    env.pop("WANDB_API_KEY", None)
    return {"dir": folder, "env": env, "corpus": folder / "corpus"}


def _fit(work: dict, name: str, *extra: str) -> Path:
    """`studio fit` with the quickstart preset shrunk to seconds; returns the run folder."""
    args = [*tiny_tagger_fit(work["corpus"], epochs=2), "--run_name", name, *extra]
    result = run_studio_here(args, work["dir"], work["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    return work["dir"] / "checkpoints" / name


@pytest.fixture(scope="module")
def framewise_run(work: dict) -> Path:
    return _fit(work, "fw")


@pytest.fixture(scope="module")
def ctc_run(work: dict) -> Path:
    return _fit(work, "ctc", "--model.init_args.loss", "ctc", "--model.init_args.subsample", "2")


def _tag(work: dict, ckpt: Path, *args: str) -> tuple[str, Path]:
    result = run_studio_here(["tag", "--ckpt", str(ckpt), *args], work["dir"], work["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    folder = work["dir"] / re.search(r"to (samples/\S+)", result.stderr).group(1)
    return result.stdout, folder


def _one_line_error(result: object, *needles: str) -> str:
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr and lines[-1].startswith("studio: error:"), result.stderr[-2000:]
    assert len([line for line in lines if line.startswith("studio: error:")]) == 1
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


def test_fit_writes_a_tagger_checkpoint_with_its_speech_codec(framewise_run: Path) -> None:
    assert {"best.ckpt", "last.ckpt", "config.yaml"} <= {p.name for p in framewise_run.iterdir()}
    checkpoint = torch.load(framewise_run / "best.ckpt", weights_only=True)
    assert checkpoint["studio"]["task"] == "speech_tagging"
    assert checkpoint["studio"]["codec"]["kind"] == "speech"
    assert checkpoint["hyper_parameters"]["input_size"] == 120 and checkpoint["hyper_parameters"]["num_labels"] == 13


def test_test_prints_frame_accuracy_and_label_error_rate(work: dict, framewise_run: Path) -> None:
    result = run_studio_here(
        [
            "test",
            "--config",
            str(framewise_run / "config.yaml"),
            "--trainer.logger",
            "false",
            "--ckpt_path",
            str(framewise_run / "best.ckpt"),
        ],
        work["dir"],
        work["env"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ler = float(re.search(r"test_ler\s*[│|]?\s*([\d.]+)", result.stdout).group(1))
    accuracy = float(re.search(r"test_frame_acc\s*[│|]?\s*([\d.]+)", result.stdout).group(1))
    assert ler >= 0 and 0 <= accuracy <= 1


def test_tag_prints_timed_labels_and_writes_phn_and_json_in_a_fresh_folder(work: dict, framewise_run: Path) -> None:
    clip = work["corpus"] / "FS000" / "U000.wav"
    stdout, folder = _tag(work, framewise_run / "best.ckpt", str(clip))
    spans = TIME_LINE.findall(stdout)
    assert spans and str(clip) in stdout
    labels = set(synthetic_speech.PHONES)
    assert all(label in labels for _, _, label in spans)
    n_samples = soundfile.info(str(clip)).frames
    rows = [line.split() for line in (folder / "U000.phn").read_text().splitlines()]
    # Framewise runs tile the clip: from sample 0 to its last sample, with no gap.
    assert int(rows[0][0]) == 0 and int(rows[-1][1]) == n_samples
    assert all(int(a[1]) == int(b[0]) for a, b in zip(rows, rows[1:]))
    assert [r[2] for r in rows] == [label for _, _, label in spans]
    record = json.loads((folder / "U000.json").read_text())
    assert record["sample_rate"] == 16000 and record["loss"] == "framewise"
    assert [item["label"] for item in record["labels"]] == [r[2] for r in rows]
    _, again = _tag(work, framewise_run / "best.ckpt", str(clip))
    assert again != folder and (folder / "U000.phn").exists()  # earlier outputs are kept


def test_tag_a_ctc_model_with_beam_search(work: dict, ctc_run: Path) -> None:
    clips = [work["corpus"] / "FS000" / "U001.wav", work["corpus"] / "MS001" / "U001.wav"]
    stdout, folder = _tag(work, ctc_run / "best.ckpt", "--beam_width", "3", *map(str, clips))
    assert all(str(clip) in stdout for clip in clips)
    assert {p.name for p in folder.iterdir()} == {"U001.phn", "U001.json", "U001-2.phn", "U001-2.json", "settings.json"}
    record = json.loads((folder / "U001.json").read_text())
    assert record["loss"] == "ctc" and record["decoding"] == "prefix beam search"
    assert all(0 <= item["start"] < item["end"] <= record["duration_s"] for item in record["labels"])


def test_a_missing_corpus_folder_is_one_line(work: dict) -> None:
    result = run_studio_here(
        ["fit", "--config", str(QUICKSTART), "--data.init_args.root", "no/such/TIMIT", "--trainer.logger", "false"],
        work["dir"],
        work["env"],
    )
    _one_line_error(result, "no/such/TIMIT does not exist")


def test_tagging_a_file_that_is_not_audio_is_one_line(work: dict, framewise_run: Path) -> None:
    notes = work["dir"] / "notes.txt"
    notes.write_text("this is not a recording\n")
    result = run_studio_here(["tag", "--ckpt", str(framewise_run / "best.ckpt"), str(notes)], work["dir"], work["env"])
    _one_line_error(result, "notes.txt")


def test_a_text_checkpoint_given_to_tag_is_one_line(work: dict, small_corpus: Path) -> None:
    data = TextDataModule(
        path=str(small_corpus), batch_size=2, seq_len=16, val_batch_size=2, cache_dir=str(work["dir"] / "text")
    )
    model = RecurrentLanguageModel(vocab_size=data.codec.vocab_size, embedding_dim=8, hidden_size=8, num_layers=1)
    trainer = L.Trainer(
        max_steps=1,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[StudioMetadata()],
        default_root_dir=str(work["dir"]),
    )
    trainer.fit(model, data)
    ckpt = work["dir"] / "text.ckpt"
    trainer.save_checkpoint(ckpt)
    result = run_studio_here(
        ["tag", "--ckpt", str(ckpt), str(work["corpus"] / "FS000" / "U000.wav")], work["dir"], work["env"]
    )
    _one_line_error(result, "is a text checkpoint, which `studio tag` does not take: use `studio sample`")
