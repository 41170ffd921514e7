"""Shared fixtures: a small corpus, and running the real `studio` command in a subprocess."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase

from datamodules.corpora import EMBEDDED

ROOT = Path(__file__).resolve().parents[1]

# Property tests draw the same cases on every run of the suite (pyproject's --hypothesis-seed) and first
# replay the examples found before, committed under tests/hypothesis-examples/, so the suite never turns
# red on a case no change caused. `benchmarks/property_search.py` runs the long random search (the
# "search" profile) and saves what it finds there.
FOUND_EXAMPLES = Path(__file__).resolve().parent / "hypothesis-examples"
settings.register_profile("suite", database=ReadOnlyDatabase(DirectoryBasedExampleDatabase(FOUND_EXAMPLES)))
settings.register_profile("search", database=DirectoryBasedExampleDatabase(FOUND_EXAMPLES), deadline=None)
settings.load_profile(os.environ.get("STUDIO_HYPOTHESIS_PROFILE", "suite"))

# A tiny text model that trains in seconds; tests add their own budget flags.
TINY_TEXT_FIT = [
    "fit",
    "--model",
    "studio.models.RecurrentLanguageModel",
    "--model.init_args.embedding_dim",
    "16",
    "--model.init_args.hidden_size",
    "32",
    "--model.init_args.num_layers",
    "1",
    "--model.init_args.scheduler",
    "constant",
    "--data",
    "datamodules.TextDataModule",
    "--data.init_args.batch_size",
    "4",
    "--data.init_args.seq_len",
    "32",
    "--data.init_args.val_batch_size",
    "2",
    "--trainer.accelerator",
    "cpu",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    "--seed_everything",
    "7",
]


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> object:
    """One torch thread in this process, as in the CLI runs, unless OMP_NUM_THREADS says otherwise.

    The models here are tiny, and on a busy two-core machine a second thread only spins waiting for
    the first: a unit test that takes 2 s alone took a minute beside two other busy processes.
    """
    import torch

    threads = torch.get_num_threads()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# fmt: off
# A tiny MIDI language model (the data source and the budget are the tests' own).
TINY_MIDI_FIT = [
    "fit",
    "--model", "studio.models.RecurrentLanguageModel",
    "--model.init_args.embedding_dim", "16",
    "--model.init_args.hidden_size", "32",
    "--model.init_args.num_layers", "1",
    "--model.init_args.scheduler", "constant",
    "--data", "datamodules.midi.MidiDataModule",
    "--data.init_args.window", "64",
    "--data.init_args.stride", "64",
    "--data.init_args.val_fraction", "0.25",
    "--trainer.accelerator", "cpu",
    "--trainer.enable_model_summary", "false",
    "--seed_everything", "7",
]


def tiny_tagger_fit(corpus: Path, batch_size: int = 4, epochs: int = 1) -> list[str]:
    """A tiny tagger: the tagging quickstart preset on `corpus`, shrunk to seconds, without a logger."""
    return [
        "fit",
        "--config", str(ROOT / "configs" / "tagging" / "quickstart.yaml"),
        "--data.init_args.root", str(corpus),
        "--data.init_args.batch_size", str(batch_size),
        "--data.init_args.val_fraction", "0.25",
        "--data.init_args.test_fraction", "0.25",
        "--model.init_args.hidden_size", "16",
        "--model.init_args.projection_size", "16",
        "--model.init_args.num_layers", "1",
        "--trainer.max_epochs", str(epochs),
        "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false",
    ]
# fmt: on


def late_dropout_fit(folder: Path) -> list[str]:
    """Arguments of a tiny text run whose validation loss turns up, so late dropout switches on (rate 0.25).

    Its corpus (written in `folder`) trains on a and b only and holds out c and d: the better the model
    learns the first, the worse it predicts the second, so the second validation loss is above the first.
    """
    corpus = folder / "drift.txt"
    corpus.write_text("ab" * 2700 + "cd" * 300, encoding="utf-8")
    return [
        *TINY_TEXT_FIT,
        *["--data.init_args.path", str(corpus), "--trainer.logger", "false", "--trainer.max_epochs", "3"],
        *["--model.init_args.num_layers", "2", "--model.init_args.dropout", "0.25"],
        *["--model.init_args.dropout_from", "overfitting"],
    ]


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 12,000 characters of the embedded default corpus, as a file."""
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text(EMBEDDED["lady_susan"]()[:12000], encoding="utf-8")
    return path


@pytest.fixture()
def studio_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for CLI runs: caches and W&B files under the test's folder, W&B offline."""
    env = dict(os.environ)
    # One thread per process: CLI runs (and DDP ranks) share CI's two cores without oversubscribing them.
    env.update(
        STUDIO_CACHE=str(tmp_path / "cache"),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
    )
    env.pop("WANDB_API_KEY", None)
    monkeypatch.setenv("STUDIO_CACHE", env["STUDIO_CACHE"])
    return env


def run_studio(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m studio ARGS` in `cwd` and capture its output (for tests that need a process of its own)."""
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_studio_here(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the `studio` command in this process, as `run_studio` would in a new one, without its start-up cost.

    The working folder, environment and `sys.argv` are the command's while it runs and restored
    afterwards; its exit status, stdout and stderr come back as from a subprocess. An uncaught
    exception becomes status 1 with its traceback on stderr, as the interpreter would print it.
    (`timeout` is unused.) The process-wide state a run may change is restored too, so later tests
    see none of it: torch's thread count (set from `OMP_NUM_THREADS` in `env` for the call, as a new
    process would read it), its deterministic-algorithms flag, and the torch, NumPy and `random`
    generators. Warnings are printed on the captured stderr; unlike a subprocess, messages Lightning
    sends through `logging` are not captured.
    """
    import random
    import warnings

    import numpy as np
    import torch

    from studio.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_cwd, saved_env, saved_argv = os.getcwd(), dict(os.environ), sys.argv
    saved_threads, saved_deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    saved_rng = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["studio"]  # the command's arguments go to main(); pytest's are none of its business
    code = 0
    try:
        if env.get("OMP_NUM_THREADS", "").isdigit() and int(env["OMP_NUM_THREADS"]) > 0:
            torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            # Warnings go to the command's stderr, as in a process of its own (pytest would only record them).
            warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: err.write(
                warnings.formatwarning(message, category, filename, lineno, line)
            )
            try:
                main(list(args))
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                if not isinstance(stop.code, (int, type(None))):
                    print(stop.code, file=err)  # as the interpreter prints `sys.exit("message")`
            except Exception:
                traceback.print_exc(file=err)
                code = 1
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        torch.set_num_threads(saved_threads)
        torch.use_deterministic_algorithms(saved_deterministic)
        torch.set_rng_state(saved_rng[0])
        np.random.set_state(saved_rng[1])
        random.setstate(saved_rng[2])
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit status 2, no traceback, exactly one `studio: error:` line, last, holding every needle; returns it."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("studio: error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert errors[0] == result.stderr.strip().splitlines()[-1], result.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="session")
def trained_text(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path) -> dict:
    """One small text training run (W&B offline, samples logged), shared by the end-to-end tests."""
    work = tmp_path_factory.mktemp("run")
    env = dict(
        os.environ, STUDIO_CACHE=str(work / "cache"), WANDB_MODE="offline", WANDB_SILENT="true", OMP_NUM_THREADS="1"
    )
    env.pop("WANDB_API_KEY", None)
    sample_logger = [
        "--trainer.callbacks+=studio.training.text_samples.TextSampleLogger",
        "--trainer.callbacks.every_n_steps=20",
        "--trainer.callbacks.length=30",
    ]
    result = run_studio(
        [
            *TINY_TEXT_FIT,
            "--data.init_args.path",
            str(small_corpus),
            "--trainer.max_epochs",
            "2",
            "--run_name",
            "tiny",
            *sample_logger,
        ],
        work,
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"work": work, "env": env, "run": work / "checkpoints" / "tiny"}
