"""MidiSampleLogger: while a MIDI model trains, listen to it (W&B audio) and look at it (piano-roll images)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.statistics import STATISTICS, pitched_notes
from studio.generation.midi import sample_pieces
from studio.generation.render import render_piano_roll, render_wav
from studio.generation.sampling import SamplingSettings
from studio.training.metrics_file import append_metrics

# Statistics logged (as samples/<name>, the mean over the pieces) each time pieces are sampled.
LOGGED_STATISTICS = ("pitch_class_entropy", "polyphony", "scale_consistency", "notes_per_second", "empty_beat_rate")


class MidiSampleLogger(L.Callback):
    """Every `every_n_steps` (and once when training ends), generates pieces on rank zero and logs them to W&B.

    Logged keys: `samples/audio` (one wandb.Audio per piece), `samples/piano_roll` (one image per
    piece) and the mean of each of LOGGED_STATISTICS over the pieces (`samples/polyphony`, ...).
    Without a W&B logger nothing is generated, so the callback costs nothing.
    """

    def __init__(
        self,
        every_n_steps: int = 500,
        num_samples: int = 2,
        seconds: float = 10.0,
        temperature: float = 1.0,
        max_note_seconds: float = 5.0,
        seed: int = 0,
        sample_rate: int = 16000,
    ) -> None:
        self.every_n_steps, self.num_samples, self.seconds = every_n_steps, num_samples, seconds
        self.settings = SamplingSettings(temperature=temperature)
        self.max_note_seconds, self.seed, self.sample_rate = max_note_seconds, seed, sample_rate
        self.logged_steps: list[int] = []

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Sample and log when the step count is a multiple of `every_n_steps`."""
        step = trainer.global_step
        if self.every_n_steps > 0 and step > 0 and step % self.every_n_steps == 0:
            self.log_samples(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Short runs (and the final weights) get their samples too."""
        self.log_samples(trainer, pl_module)

    @rank_zero_only
    def log_samples(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Generate `num_samples` pieces and log their audio and piano rolls to every W&B logger."""
        step = trainer.global_step
        loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        codec = getattr(trainer.datamodule, "codec", None)
        if not loggers or not isinstance(codec, MidiCodec) or step in self.logged_steps:
            return
        pieces = sample_pieces(
            pl_module,
            codec,
            self.num_samples,
            self.settings,
            self.seed,
            self.seconds,
            max_note_seconds=self.max_note_seconds,
        )
        self.logged_steps.append(step)
        # A few statistics of the pieces, so a run shows its music drifting towards the data's.
        notes = [pitched_notes(piece.midi) for piece in pieces]
        stats = {f"samples/{name}": float(np.mean([STATISTICS[name](n) for n in notes])) for name in LOGGED_STATISTICS}
        for logger in trainer.loggers:
            logger.log_metrics(stats, step=step)
        append_metrics(trainer, stats)  # beside the losses, for the web studio
        with tempfile.TemporaryDirectory(prefix="studio-midi-samples-") as tmp:
            wavs, rolls, captions = [], [], []
            for i, piece in enumerate(pieces, 1):
                wavs.append(str(Path(tmp) / f"sample_{i}.wav"))
                rolls.append(str(Path(tmp) / f"sample_{i}.png"))
                render_wav(piece.midi, wavs[-1], sample_rate=self.sample_rate)
                render_piano_roll(piece.midi, rolls[-1], title=f"step {step}, sample {i}")
                captions.append(f"step {step}, sample {i}: {piece.seconds:.1f} s, {piece.notes} notes")
            # wandb copies the files into the run as they are logged, so the folder may go afterwards.
            for logger in loggers:
                logger.log_audio("samples/audio", wavs, step=step, caption=captions)
                logger.log_image("samples/piano_roll", rolls, step=step, caption=captions)

    def state_dict(self) -> dict[str, Any]:
        """Steps already logged (so a resumed run does not log them twice)."""
        return {"logged_steps": list(self.logged_steps)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the steps already logged."""
        self.logged_steps = list(state_dict.get("logged_steps", []))
