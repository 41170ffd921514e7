"""MIDI generation: an event language model plays pieces, optionally primed, steered or beam-searched (one-to-many)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from studio.errors import StudioError
from studio.generation.requests import setting
from studio.generation.scores import MAX_GRID, check_grid
from studio.generation.tasks.record import Task, no_inputs
from studio.generation.tasks.sampled import SampledRequest
from studio.generation.tasks.text import sample_number

if TYPE_CHECKING:
    from studio.generation.decoding import Progress
    from studio.generation.loading import LoadedCheckpoint
    from studio.generation.midi import Piece
    from studio.generation.outputs import SampleFolder

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
DEFAULT_SECONDS = 30.0
# --programs: General MIDI programs 0..127, and this number for the drum kit (MultitrackCodec's DRUMS).
DRUMS = 128
DRUM_NAMES = ("drums", "drum", "drumkit", "kit")
# The program a family's name stands for: its usual member (MultitrackCodec's representatives).
FAMILY_PROGRAMS = (0, 11, 16, 25, 33, 40, 48, 56, 65, 73, 80, 88, 96, 104, 112, 120)


def pitch_weights(text: str) -> tuple[float, ...]:
    """Twelve weights for C, C#, ... B written '[2, 0, 1, ...]' or '2,0,1,...'; StudioError otherwise."""
    try:
        weights = tuple(float(part) for part in text.strip().strip("[]").split(","))
    except ValueError:
        weights = ()
    if len(weights) != 12:
        raise StudioError(f"{text!r} is not 12 comma-separated numbers (C, C#, ... B)")
    return weights


def _squeeze(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def program_label(program: int, is_drum: bool = False) -> str:
    """An instrument's General MIDI name (Acoustic Grand Piano, ...), or Drums."""
    import pretty_midi

    return "Drums" if is_drum or program == DRUMS else str(pretty_midi.program_to_instrument_name(program))


def instrument_program(word: str | int) -> int:
    """One instrument as a number: 0..127 (a program), 128 or 'drums' (the kit), a General MIDI name
    ('Flute', 'electric bass (finger)') or a family's ('piano', 'bass', 'strings': its usual member)."""
    import pretty_midi

    if isinstance(word, int) and not isinstance(word, bool):
        if 0 <= word <= DRUMS:
            return word
        raise StudioError(f"program {word} is not 0..127 (General MIDI) or {DRUMS} (drums)")
    text = str(word).strip()
    if text.lstrip("+").isdigit():
        return instrument_program(int(text))
    key = _squeeze(text)
    if key in DRUM_NAMES:
        return DRUMS
    names = {_squeeze(pretty_midi.program_to_instrument_name(p)): p for p in range(128)}
    families = {_squeeze(f): FAMILY_PROGRAMS[i] for i, f in enumerate(pretty_midi.INSTRUMENT_CLASSES)}
    found = names.get(key, families.get(key))
    if found is None:
        raise StudioError(
            f"unknown instrument {text!r}: use General MIDI numbers 0-127, drums, a family "
            "(piano, bass, guitar, strings, brass, reed, pipe, organ, ...) or a General MIDI name such as Flute"
        )
    return found


def parse_programs(value: str | Sequence[str | int]) -> tuple[int, ...]:
    """Instruments written '0,33,73', 'piano,bass,flute' or as a list, as numbers (see instrument_program),
    each once, in order; StudioError in one line for an unknown one or none at all."""
    words = value.replace(";", ",").split(",") if isinstance(value, str) else list(value)
    words = [w for w in words if not (isinstance(w, str) and not w.strip())]
    if not words:
        raise StudioError("no instruments given: name some, e.g. piano,bass,drums or 0,33,128")
    return tuple(dict.fromkeys(instrument_program(w) for w in words))


@dataclass(frozen=True, kw_only=True)
class MidiRequest(SampledRequest):
    """What a MIDI request holds: length, primer, controls, beam search and rendering, besides the sampling settings."""

    seconds: Optional[float] = setting(
        None,
        f"length of each piece in seconds, primer included (default {DEFAULT_SECONDS:g})",
        above=0,
    )
    length: Optional[int] = setting(None, "events per piece, primer included (instead of --seconds)", at_least=1)
    primer: Optional[str] = setting(None, "a .mid file the pieces begin with and continue", path=True)
    max_note_seconds: float = setting(5.0, "no note sounds longer than this", above=0, hint="e.g. 5")
    notes_per_second: Optional[float] = setting(
        None, "models trained with the density control: the note density to aim for", above=0, hint="e.g. 6"
    )
    pitch_class_histogram: Optional[tuple[float, ...]] = setting(
        None,
        "models trained with the pitch control: 12 weights for C, C#, ... B, "
        "e.g. '[2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]' (C major)",
        parse=pitch_weights,
    )
    beam_size: int = setting(1, "beams kept per piece (1, with --branch_factor 1: plain sampling)", at_least=1)
    branch_factor: int = setting(1, "sampled copies of each beam per iteration", at_least=1)
    steps_per_iteration: int = setting(1, "events sampled between prunings", at_least=1)
    render: bool = setting(True, "write .wav and .png renderings beside each .mid")
    programs: Optional[tuple[int, ...]] = setting(
        None,
        "models of several instruments: the instruments to play, as General MIDI numbers or names, "
        "e.g. '0,33,73' or 'piano,bass,flute,drums' (default: any)",
        parse=parse_programs,
    )
    new_part: Optional[int] = setting(
        None,
        "models of several instruments, with --primer: keep the primer's parts note for note and write a new part "
        "for this instrument under them (a General MIDI number or name, e.g. bass or 33); the piece lasts as long "
        "as the primer",
        parse=instrument_program,
    )
    score_grid: Optional[int] = setting(
        None,
        "also write each piece as a MusicXML score (.musicxml), one part per instrument, quantised to this "
        "grid in notes per whole note: 16 sixteenths, 8 eighths, 12 eighth triplets (default, or 0: no score)",
        at_least=0,
        at_most=MAX_GRID,
        hint="e.g. 16",
    )

    def __post_init__(self) -> None:
        # Names (from the API or a JSON body) become numbers here, the one place they are read.
        if self.programs is not None and not isinstance(self.programs, (int, float)):
            try:
                object.__setattr__(self, "programs", parse_programs(self.programs))
            except (StudioError, TypeError) as error:
                raise StudioError(f"--programs: {error}") from None
        if isinstance(self.new_part, str):
            try:
                object.__setattr__(self, "new_part", instrument_program(self.new_part))
            except StudioError as error:
                raise StudioError(f"--new_part: {error}") from None
        super().__post_init__()
        if self.score_grid:  # its type and range checked above
            check_grid(self.score_grid)

    @property
    def beams(self) -> int:
        """Rows a beam search steps per piece: beam_size x branch_factor."""
        return self.beam_size * self.branch_factor


def run(loaded: LoadedCheckpoint, inputs: list[Any], request: MidiRequest, progress: Optional[Progress]) -> list[Piece]:
    """The pieces, primed, steered and searched as the request says."""
    from studio.generation.midi import primer_ids

    return run_with_primer_ids(loaded, request, primer_ids(loaded.codec, request.primer), progress)


def run_with_primer_ids(
    loaded: LoadedCheckpoint, request: MidiRequest, primer: list[int], progress: Optional[Progress]
) -> list[Piece]:
    """The pieces of `request`, begun with the event ids `primer` (the request's own primer file is not read)."""
    from studio.codecs.midi.controls import control_vector
    from studio.generation.beam_search import BeamSettings
    from studio.generation.midi import sample_pieces

    codec = loaded.codec
    seconds = DEFAULT_SECONDS if request.seconds is None and request.length is None else request.seconds
    names = getattr(codec, "controls", ())  # a MultitrackCodec has none
    try:
        controls = control_vector(names, request.notes_per_second, request.pitch_class_histogram)
    except StudioError as error:
        raise StudioError(f"{loaded.path}: {error}") from None
    if request.programs is not None and getattr(codec, "kind", None) != "midi_multitrack":
        raise StudioError(
            f"{loaded.path} plays one instrument (piano): drop --programs, or use a model trained on several "
            "instruments (a midi_multitrack codec)"
        )
    if request.new_part is not None:
        from studio.generation.new_part import new_part_pieces

        check_new_part(loaded, request, primer)
        return new_part_pieces(
            loaded.model, codec, primer, request.new_part, request.num_samples, request.sampling, request.seed,
            request.max_note_seconds, progress,
        )  # fmt: skip
    return sample_pieces(
        loaded.model,
        codec,
        request.num_samples,
        request.sampling,
        request.seed,
        seconds=seconds,
        events=request.length,
        primer=primer,
        max_note_seconds=request.max_note_seconds,
        controls=controls if names else None,
        beam=BeamSettings(request.beam_size, request.branch_factor, request.steps_per_iteration),
        progress=progress,
        programs=request.programs,
    )


def check_new_part(loaded: LoadedCheckpoint, request: MidiRequest, primer: list[int]) -> None:
    """One-line errors for --new_part without what it needs, or with settings it cannot honour."""
    if getattr(loaded.codec, "kind", None) != "midi_multitrack":
        raise StudioError(
            f"{loaded.path} plays one instrument (piano): --new_part needs a model of several instruments"
        )
    if not primer:
        raise StudioError("--new_part needs --primer FILE: the parts (a .mid file) to write the new part under")
    if request.programs is not None or request.beams > 1:
        raise StudioError("--new_part writes one instrument by plain sampling: drop --programs and --beam_size")


def save(folder: SampleFolder, pieces: list[Piece], request: MidiRequest) -> list[Path]:
    """Each piece as sample_N.mid, with its .wav and .png renderings and its .musicxml score when asked."""
    paths: list[Path] = []
    for i, piece in enumerate(pieces, 1):
        path = folder.write(f"sample_{i}.mid", piece.to_midi())
        if request.score_grid and piece.notes:  # a piece without notes has no score to read
            folder.write(path.with_suffix(".musicxml").name, piece.to_musicxml(request.score_grid))
        if request.render:
            folder.renderers.add(piece.render_wav(path.with_suffix(".wav")))
            piece.piano_roll(path.with_suffix(".png"), title=f"sample {i}: {piece.seconds:.1f} s, {piece.notes} notes")
        paths.append(path)
    return paths


def show(pieces: list[Piece], paths: list[Path]) -> list[str]:
    """A line per piece: its file, length and notes."""
    return [f"{path}  {piece.seconds:.1f} s  {piece.notes} notes" for path, piece in zip(paths, pieces)]


def pitch_name(pitch: int) -> str:
    """C4 is MIDI pitch 60."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def notes_of(path: Path) -> tuple[list[dict[str, Any]], float]:
    """The notes of a saved MIDI file (pitch, name, start, end, velocity) and its length in seconds."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(path))
    notes = sorted((n for inst in midi.instruments for n in inst.notes), key=lambda n: (n.start, n.pitch))
    listed = [
        {
            "pitch": n.pitch,
            "name": pitch_name(n.pitch),
            "start": round(n.start, 4),
            "end": round(n.end, 4),
            "velocity": n.velocity,
        }
        for n in notes
    ]
    return listed, float(midi.get_end_time())


def read_back(folder: Path, files: list[Path], url: Callable[[str], str]) -> dict[str, Any]:
    """Each saved piece: its notes, its length and where its files are."""
    names = {p.name for p in files}
    pieces = []
    for path in sorted((p for p in files if p.suffix == ".mid"), key=sample_number):
        notes, seconds = notes_of(path)
        beside = {s: path.with_suffix(f".{s}").name for s in ("wav", "png", "musicxml")}
        rendered = {s: url(name) if name in names else None for s, name in beside.items()}
        pieces.append(
            {
                "index": sample_number(path),
                "seconds": round(seconds, 3),
                "notes": notes,
                "files": {"mid": url(path.name), **rendered},
            }
        )
    return {"pieces": pieces}


def loss_unit(codec: Mapping[str, Any], hparams: Mapping[str, Any]) -> str:
    """A MIDI model's loss is counted per event."""
    return "nats per event"


MIDI = Task(
    name="midi",
    title="MIDI generation",
    shape="one-to-many",
    net_path="studio.nets.language_model:LanguageModelNet",
    codec_kind="midi",
    other_codec_kinds=("midi_multitrack",),
    request=MidiRequest,
    method="midi",
    command="sample",
    noun="piece",
    unit="events",
    inputs=no_inputs,
    run=run,
    save=save,
    show=show,
    read_back=read_back,
    loss_unit=loss_unit,
    evaluate="studio.evaluation.language_model:evaluate_language_model",
    web_limits={"num_samples": 8, "seconds": 300.0, "beams": 64},
)
