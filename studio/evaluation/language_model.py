"""`studio evaluate` for text and MIDI language models: held-out likelihood, and samples against real data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.codecs.midi.statistics import INSTRUMENT_STATISTICS
from studio.errors import StudioError
from studio.evaluation.against import midi_against, text_against
from studio.evaluation.instruments import instrument_comparison_text, instrument_overlaps
from studio.evaluation.likelihood import MIDI_SUFFIXES, TEXT_SUFFIXES, find_files, midi_likelihood, text_likelihood
from studio.evaluation.report import instrument_overlap_plot, statistic_plot, table, text_statistics_plot
from studio.evaluation.request import Evaluation, EvaluationRequest
from studio.generation import Generator


def evaluate_language_model(generator: Generator, request: EvaluationRequest, folder: Path) -> Evaluation:
    """Likelihood of `request.data`, and `request.samples` generated pieces or texts against `request.against`."""
    if request.held_out is not None:
        raise StudioError("--split: a language model is scored on files; pass --data with held-out text or MIDI")
    midi = isinstance(generator.loaded.codec, (MidiCodec, MultitrackCodec))  # one instrument, or several
    if request.rounds != 1 and midi:
        raise StudioError(
            f"--rounds {request.rounds}: rounds are for text checkpoints, not midi; ask for more --samples"
        )
    result: dict[str, Any] = {"checkpoint": str(generator.path), "task": generator.task.name}
    parts: list[str] = []
    images: list[Path] = []
    if request.data:
        parts += _likelihood(generator, request, result, midi)
    if request.samples:
        if midi:
            parts += _midi_against(generator, request, result, folder, images)
        else:
            parts += _text_against(generator, request, result, folder, images)
    return Evaluation(result, "\n\n".join(parts), images)


def _likelihood(generator: Generator, request: EvaluationRequest, result: dict[str, Any], midi: bool) -> list[str]:
    model, codec = generator.loaded.model, generator.loaded.codec
    score, suffixes = (midi_likelihood, MIDI_SUFFIXES) if midi else (text_likelihood, TEXT_SUFFIXES)
    with request.progress("bytes") as bar:
        found = score(model, codec, find_files(request.data, suffixes), bar)
    if not found.files:
        first = f"{found.skipped[0][0]}: {found.skipped[0][1]}" if found.skipped else "none found"
        fix = "MIDI files with notes, of at most the instruments the model plays" if midi else "text files"
        raise StudioError(f"--data: none of the files could be scored ({first}): pass {fix}")
    result["likelihood"] = found.as_dict()
    rows = [[key, value] for key, value in found.as_dict().items() if key != "skipped"]
    parts = [table(rows, ["held-out likelihood", "value"])]
    if found.skipped:
        parts.append(f"skipped {len(found.skipped)} file(s): " + ", ".join(f"{n} ({w})" for n, w in found.skipped[:10]))
    return parts


def _midi_against(
    generator: Generator, request: EvaluationRequest, result: dict[str, Any], folder: Path, images: list[Path]
) -> list[str]:
    reference = find_files(request.against, MIDI_SUFFIXES)
    multitrack = isinstance(generator.loaded.codec, MultitrackCodec)
    with request.progress("events") as bar:
        found = midi_against(
            generator, request.samples, request.seconds, reference, request.seed, request.temperature, bar, multitrack
        )
    comparisons, made, real, skipped = found.comparisons, found.made, found.real, found.skipped
    result["generated_vs_real"] = {name: c.as_dict() for name, c in comparisons.items()}
    rows = [
        [name, c.generated_mean, c.reference_mean, c.overlap, c.kl_divergence, c.generated_overlap]
        for name, c in comparisons.items()
    ]
    parts = [table(rows, ["statistic", "generated", "real", "overlap", "KL", "overlap (generated side)"])]
    for name in comparisons:
        images.append(folder / f"{name}.png")
        statistic_plot(name, made[name], real[name], images[-1])
    if multitrack:
        result["per_instrument"] = found.instruments
        parts.append(_instrument_table(found.instruments))
        result["per_instrument_vs_real"] = {name: c.as_dict() for name, c in found.by_instrument.items()}
        parts.append(instrument_comparison_text(found.by_instrument))
        overlaps = instrument_overlaps(found.by_instrument)
        if overlaps:
            images.append(folder / "instrument_overlap.png")
            instrument_overlap_plot(overlaps, images[-1])
    if skipped:
        parts.append(f"skipped {len(skipped)} reference file(s): " + ", ".join(n for n, _ in skipped[:10]))
    return parts


def _instrument_table(instruments: dict[str, dict[str, dict[str, float]]]) -> str:
    """Each instrument's share of pieces and mean statistics, generated beside real (blank where one side lacks it)."""
    made, real = instruments["generated"], instruments["real"]
    rows = []
    for name in sorted(made.keys() | real.keys()):
        for stat in ("share_of_pieces", *INSTRUMENT_STATISTICS):
            rows.append([name, stat, made.get(name, {}).get(stat, ""), real.get(name, {}).get(stat, "")])
    return table(rows, ["instrument", "statistic (mean per piece)", "generated", "real"])


def _text_against(
    generator: Generator, request: EvaluationRequest, result: dict[str, Any], folder: Path, images: list[Path]
) -> list[str]:
    with request.progress("tokens") as bar:
        compared = text_against(
            generator,
            request.samples,
            request.length,
            find_files(request.against, TEXT_SUFFIXES),
            request.seed,
            request.temperature,
            bar,
            request.rounds,
        )
    result["generated_vs_real"] = {
        "generated": compared.generated,
        "generated_spread": compared.spread,
        "rounds": compared.rounds,
        "reference": compared.reference,
    }
    images.append(folder / "text_statistics.png")
    text_statistics_plot(compared, images[-1])
    if compared.rounds == 1:
        rows = [[name, compared.generated[name], compared.reference[name]] for name in compared.generated]
        return [
            table(rows, ["statistic", "generated", "real text"]),
            "one round of samples: --rounds R measures R rounds and gives each figure's spread",
        ]
    rows = [
        [name, compared.generated[name], compared.spread[name], compared.reference[name]] for name in compared.generated
    ]
    header = [f"generated (mean of {compared.rounds} rounds)", "sd over rounds"]
    return [table(rows, ["statistic", *header, "real text"])]
