"""Tiny checkpoints of each task (text, MIDI, tagger), trained once per test session through the real CLI.

`trained(task, tmp_path_factory)` fits the task's model the first time it is asked for and hands
back the same run afterwards, so test modules that each need a checkpoint share one training run.
"""

from __future__ import annotations

import os

import conftest
import pytest
from conftest import TINY_TEXT_FIT, run_studio_here, tiny_tagger_fit
from midi_songs import write_song

from datamodules import synthetic_speech
from datamodules.corpora import EMBEDDED

QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]

TINY_MIDI_FIT = [*conftest.TINY_MIDI_FIT, "--data.init_args.batch_size", "4", "--trainer.max_steps", "4"]


_RUNS: dict[str, dict] = {}


def trained(task: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The run of `task` ("text", "midi", "tagger", "classifier" or "word_tagger"): {"work", "env", "ckpt"}, trained on the first call.

    `work` holds the run's data (`work/clips/*.wav` for the tagger: held-out-style clips to label).
    """
    if task in _RUNS:
        return _RUNS[task]
    work = tmp_path_factory.mktemp(f"tiny-{task}")
    env = dict(
        os.environ,
        STUDIO_CACHE=str(work / "cache"),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
    )
    env.pop("WANDB_API_KEY", None)
    if task == "text":
        corpus = work / "small.txt"
        corpus.write_text(EMBEDDED["lady_susan"]()[:12000], encoding="utf-8")
        args = [*TINY_TEXT_FIT, "--data.init_args.path", str(corpus), "--trainer.max_steps", "5"]
    elif task == "midi":
        for i in range(4):
            write_song(work / "songs" / f"song{i}.mid", seed=i)
        args = [*TINY_MIDI_FIT, "--data.init_args.paths", str(work / "songs")]
    elif task == "classifier":
        args = [
            *["fit", "--config", str(conftest.ROOT / "configs" / "classify" / "quickstart.yaml")],
            *["--model.init_args.embedding_dim", "16", "--model.init_args.hidden_size", "16"],
            *["--data.init_args.num_words", "2000", "--data.init_args.max_len", "12"],
            *["--trainer.max_epochs", "2"],
        ]
    elif task == "word_tagger":
        args = [
            *["fit", "--config", str(conftest.ROOT / "configs" / "tag_text" / "quickstart.yaml")],
            *["--model.init_args.embedding_dim", "16", "--model.init_args.hidden_size", "16"],
            *["--model.init_args.char_filters", "8", "--data.init_args.num_words", "3000"],
            *["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "30"],
        ]
    elif task == "tagger":
        synthetic_speech.generate(work / "corpus", n_speakers=4, utts_per_speaker=3, seed=3)
        args = tiny_tagger_fit(work / "corpus")
    else:
        raise ValueError(f"unknown task {task!r}")
    result = run_studio_here([*args, *QUIET, "--run_name", task], work, env)
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = work / "checkpoints" / task / "last.ckpt"
    assert ckpt.is_file()
    _RUNS[task] = {"work": work, "env": env, "ckpt": ckpt}
    return _RUNS[task]
