"""A CTC tagger trained with global CMVN and a label n-gram, tagged through `studio tag` and the API with what it stored."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_studio_here, tiny_tagger_fit

from datamodules import synthetic_speech
from studio.codecs.speech import extract, read_audio
from studio.codecs.speech.ctc import prefix_beam_search
from studio.generation.api import Generator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("tag-lm")
    synthetic_speech.generate(folder / "corpus", n_speakers=4, utts_per_speaker=3, seed=3)
    env = dict(os.environ, STUDIO_CACHE=str(folder / "cache"), WANDB_MODE="offline", OMP_NUM_THREADS="1")
    env.pop("WANDB_API_KEY", None)
    return {"dir": folder, "env": env, "corpus": folder / "corpus"}


@pytest.fixture(scope="module")
def run(work: dict) -> Path:
    args = [
        *tiny_tagger_fit(work["corpus"], epochs=2),
        *("--model.init_args.loss", "ctc", "--model.init_args.subsample", "2"),
        *("--data.init_args.cmvn", "global", "--data.init_args.lm_order", "2"),
        *("--run_name", "global"),
    ]
    result = run_studio_here(args, work["dir"], work["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    return work["dir"] / "checkpoints" / "global"


def test_the_checkpoint_carries_the_statistics_and_the_n_gram(run: Path) -> None:
    codec = torch.load(run / "best.ckpt", weights_only=True)["studio"]["codec"]
    assert not codec["features"]["cmvn"] and len(codec["global_cmvn"]["mean"]) == codec["features"]["n_mels"] * 3
    assert codec["lm"]["order"] == 2 and codec["lm"]["counts"]


def test_tag_and_the_api_normalise_with_the_stored_statistics_and_fuse_the_lm(work: dict, run: Path) -> None:
    clip = work["corpus"] / "FS000" / "U001.wav"
    result = run_studio_here(
        ["tag", "--ckpt", str(run / "best.ckpt"), "--beam_width", "4", "--lm_weight", "0.5", str(clip)],
        work["dir"],
        work["env"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    folder = work["dir"] / re.search(r"to (samples/\S+)", result.stderr).group(1)
    record = json.loads((folder / "U001.json").read_text())
    assert record["lm_weight"] == 0.5 and "n-gram" in record["decoding"]
    generator = Generator.from_checkpoint(run / "best.ckpt")
    samples, sr = read_audio(clip)
    spans = generator.tag(samples, sample_rate=sr, beam_width=4, lm_weight=0.5)
    assert [item["label"] for item in record["labels"]] == [label for label, _, _ in spans]
    # What the API did, by hand: the stored statistics on the features, the stored n-gram in the beam.
    loaded = generator.loaded
    stats, lm = loaded.codec.global_cmvn, loaded.codec.lm
    raw = extract(samples, sr, loaded.codec.features)
    frames = stats.apply(raw)
    assert np.abs(frames - raw).max() > 0.1  # the statistics change the input
    np.testing.assert_array_equal(loaded.codec.encode_audio(samples, sr), frames)  # what `tag_audio` reads
    with torch.no_grad():
        logits, lengths = loaded.model(torch.from_numpy(frames)[None], torch.tensor([len(frames)]))
    log_probs = logits[0, : int(lengths[0])].log_softmax(-1).numpy()
    expected = [loaded.codec.labels.labels[label] for label, _, _ in prefix_beam_search(log_probs, 4, 0, lm, 0.5)]
    assert [label for label, _, _ in spans] == expected


def test_lm_weight_without_a_beam_or_an_n_gram_is_one_line(work: dict, run: Path) -> None:
    clip = str(work["corpus"] / "FS000" / "U001.wav")
    result = run_studio_here(
        ["tag", "--ckpt", str(run / "best.ckpt"), "--lm_weight", "0.5", clip], work["dir"], work["env"]
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--beam_width" in result.stderr.strip().splitlines()[-1]
