"""Text generation: a character or BPE language model continues a prompt (one-to-many)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from studio.generation.requests import setting
from studio.generation.tasks.record import Task, no_inputs
from studio.generation.tasks.sampled import SampledRequest

if TYPE_CHECKING:
    from studio.generation.decoding import Progress
    from studio.generation.loading import LoadedCheckpoint
    from studio.generation.outputs import SampleFolder

MAX_TEXT_BYTES = 1_000_000
DEFAULT_LENGTH = 500


@dataclass(frozen=True, kw_only=True)
class TextRequest(SampledRequest):
    """What a text request holds: the prompt and the length, besides the sampling settings."""

    prompt: Optional[str] = setting(None, "text to continue; default: a newline")
    length: int = setting(DEFAULT_LENGTH, f"tokens per sample, prompt included (default {DEFAULT_LENGTH})", at_least=1)

    @property
    def prompt_characters(self) -> int:
        """Characters of the prompt (read before the first token is drawn): the prompt's length."""
        return len(self.prompt or "")


def run(loaded: LoadedCheckpoint, inputs: list[Any], request: TextRequest, progress: Optional[Progress]) -> list[str]:
    """The texts: each continues the prompt (the prompt included)."""
    from studio.generation.text import sample_text

    return sample_text(
        loaded.model,
        loaded.codec,
        request.prompt,
        request.length,
        request.num_samples,
        request.sampling,
        request.seed,
        progress,
    )


def save(folder: SampleFolder, texts: list[str], request: TextRequest) -> list[Path]:
    """Each text as sample_N.txt (N from 1)."""
    return [folder.write(f"sample_{i}.txt", text.encode("utf-8")) for i, text in enumerate(texts, 1)]


def show(texts: list[str], paths: list[Path]) -> list[str]:
    """Each text under a header line."""
    return [f"----- sample {i} -----\n{text}" for i, text in enumerate(texts, 1)]


def read_back(folder: Path, files: list[Path], url: Callable[[str], str]) -> dict[str, Any]:
    """The saved texts, in sample order."""
    texts = sorted((p for p in files if p.suffix == ".txt"), key=sample_number)
    return {"texts": [p.read_bytes()[:MAX_TEXT_BYTES].decode("utf-8", errors="replace") for p in texts]}


def sample_number(path: Path) -> int:
    """N of sample_N.*; 0 for other names."""
    stem = path.stem
    tail = stem.rpartition("_")[2]
    return int(tail) if tail.isdigit() else 0


def loss_unit(codec: Mapping[str, Any], hparams: Mapping[str, Any]) -> str:
    """What a text model's loss is counted per: a character, a BPE token or a word."""
    return "nats per " + {"char": "character", "bpe": "BPE token", "word": "word"}.get(codec.get("level", ""), "token")


TEXT = Task(
    name="text",
    title="text generation",
    shape="one-to-many",
    net_path="studio.nets.language_model:LanguageModelNet",
    codec_kind="text",
    request=TextRequest,
    method="text",
    command="sample",
    noun="sample",
    unit="tokens",
    inputs=no_inputs,
    run=run,
    save=save,
    show=show,
    read_back=read_back,
    loss_unit=loss_unit,
    evaluate="studio.evaluation.language_model:evaluate_language_model",
    # A page's prompt is read in about a second: a longer one would hold a shared server's text worker.
    web_limits={"num_samples": 16, "length": 10_000, "prompt_characters": 20_000},
    streams=True,
)
