"""Generating with several instruments (MultitrackCodec): the grammar, the chosen programs, output, `studio sample`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from conftest import run_studio_here

from studio import __version__
from studio.checkpoint import FORMAT
from studio.codecs.midi import MidiCodec
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.errors import StudioError
from studio.generation import Generator
from studio.generation.beam_search import BeamSettings
from studio.generation.midi import midi_grammar, primer_ids, sample_pieces
from studio.generation.midi_grammar import MidiGrammar
from studio.generation.multitrack_grammar import MultitrackGrammar
from studio.generation.render import render_piano_roll
from studio.generation.sampling import SamplingSettings
from studio.generation.tasks.midi import DRUMS, MidiRequest, parse_programs
from studio.nets.language_model import LanguageModelNet

CODEC = MultitrackCodec()
FAMILY = MultitrackCodec(programs="family")
TINY = {"embedding_dim": 16, "hidden_size": 16, "num_layers": 1}


def _model(codec: MultitrackCodec | MidiCodec, seed: int = 0) -> LanguageModelNet:
    torch.manual_seed(seed)
    return LanguageModelNet(vocab_size=codec.vocab_size, **TINY).eval()


def _walk(grammar: MultitrackGrammar, batch: int, seed: int, max_steps: int = 6000) -> list[list[int]]:
    """Draw among the allowed tokens with random logits (a fresh draw each step) until every sample ends."""
    gen = torch.Generator().manual_seed(seed)
    grammar.reset(batch)
    emitted = []
    for _ in range(max_steps):
        if grammar.finished().all():
            break
        mask = grammar.allowed()
        assert mask.shape == (batch, grammar.codec.vocab_size) and mask.any(1).all()
        assert not mask[:, grammar.codec.pad_id].any() and not mask[:, grammar.codec.bos_id].any()
        # Random logits, sharpened at random, so some walks favour instrument tokens, others notes or time.
        logits = torch.randn(batch, mask.shape[1], generator=gen) * (1 + 4 * torch.rand(batch, 1, generator=gen))
        weights = torch.softmax(logits.masked_fill(~mask, -torch.inf), 1)
        choice = torch.multinomial(weights, 1, generator=gen).squeeze(1)
        assert mask[torch.arange(batch), choice].all()
        emitted.append(choice)
        grammar.update(choice)
    else:
        raise AssertionError("the grammar never let every sample finish")
    eos = grammar.codec.eos_id
    rows = torch.stack(emitted, 1).tolist()
    return [row[: row.index(eos) + 1] if eos in row else row for row in rows]


def _check(codec: MultitrackCodec, ids: list[int], slots: set[int] | None, primer: int = 0) -> None:
    """NOTE_OFF only for a note sounding in the current instrument; instruments never after a VELOCITY, a VELOCITY
    always before a NOTE_ON; NOTE_ONs only in the chosen instruments (after the primer); all released at EOS."""
    sounding: set[tuple[int, int]] = set()
    current, previous = 0, ""
    for i, token in enumerate(ids):
        kind, value = codec.classify(token)
        if previous == "VELOCITY":
            assert kind == "NOTE_ON", f"{kind} after a VELOCITY"
        if kind in ("PROGRAM", "DRUMS"):
            slot = token - codec.program_offset
            assert slot != current, "an instrument token that changes nothing"
            current = slot
        elif kind == "NOTE_OFF":
            assert (current, value) in sounding, "NOTE_OFF without a sounding note in the current instrument"
            sounding.remove((current, value))
        elif kind == "NOTE_ON":
            assert (current, value) not in sounding
            assert slots is None or i < primer or current in slots, "a note in an instrument not chosen"
            sounding.add((current, value))
        previous = kind
    assert ids[-1] == codec.eos_id and ids.count(codec.eos_id) == 1
    assert not sounding, "notes still sounding at EOS"


def _notes(pm: pretty_midi.PrettyMIDI) -> dict[tuple[int, bool], list[tuple[float, float, int, int]]]:
    return {
        (i.program, i.is_drum): sorted((round(n.start, 6), round(n.end, 6), n.pitch, n.velocity) for n in i.notes)
        for i in pm.instruments
    }


def _round_trips(codec: MultitrackCodec, ids: list[int]) -> None:
    once = codec.decode(ids)
    assert _notes(codec.decode(codec.encode(once))) == _notes(once)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "codec,programs,max_seconds,max_events",
    [
        (CODEC, None, 2.0, None),
        (CODEC, (0, 33, DRUMS), 2.0, 200),
        (CODEC, (73,), None, 120),
        (FAMILY, (1, 34, DRUMS), 3.0, None),
        (FAMILY, None, None, 60),
    ],
)
def test_random_walks_obey_the_grammar(seed, codec, programs, max_seconds, max_events) -> None:
    grammar = MultitrackGrammar(codec, max_seconds, max_events, programs=programs)
    slots = None if programs is None else {codec.slot(p, p == DRUMS) for p in programs}
    for ids in _walk(grammar, batch=6, seed=seed):
        _check(codec, ids, slots)
        _round_trips(codec, ids)
        if max_seconds is not None:
            assert codec.seconds(ids) <= max_seconds + 1e-9
        if max_events is not None:
            assert len(ids) <= max_events
        if slots is not None:
            assert {codec.slot(*track) for track in codec.decode_notes(ids)} <= slots
    assert grammar.finished().all()


def test_a_tight_event_budget_still_releases_every_instrument() -> None:
    # Few events and many instruments: the grammar must keep room for the switches back to each one.
    for budget in range(2, 30):
        grammar = MultitrackGrammar(CODEC, None, budget, programs=(0, 33, 40, 73, DRUMS))
        for ids in _walk(grammar, batch=8, seed=budget):
            _check(CODEC, ids, {0, 33, 40, 73, CODEC.drum_slot})
            assert len(ids) <= budget


def test_a_primer_in_other_instruments_is_continued_and_released() -> None:
    band = pretty_midi.PrettyMIDI()
    for program, is_drum, pitch in ((0, False, 60), (40, False, 72), (0, True, 36)):
        instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
        instrument.notes = [pretty_midi.Note(90, pitch, 0.0, 5.0)]  # still sounding when the primer ends
        band.instruments.append(instrument)
    primer = CODEC.encode(band)[:-6]  # cut before its NOTE_OFFs: notes of three instruments sound
    grammar = MultitrackGrammar(CODEC, 1.0, 80, programs=(33,))
    grammar.prime(primer)
    for ids in _walk(grammar, batch=8, seed=3):
        full = primer + ids
        _check(CODEC, full, {33}, primer=len(primer))
        _round_trips(CODEC, full)


def test_instrument_tokens_never_follow_a_velocity() -> None:
    grammar = MultitrackGrammar(CODEC, 2.0, None)
    grammar.reset(1)
    grammar.update(torch.tensor([CODEC.layout.velocity_offset + 5]))
    mask = grammar.allowed()[0]
    assert not mask[CODEC.program_offset :].any()
    assert mask[CODEC.layout.note_on_offset : CODEC.layout.note_on_offset + 128].all()


def test_notes_need_a_chosen_instrument_first() -> None:
    # Before any instrument token the current one is the piano: not chosen here, so no note and no velocity.
    grammar = MultitrackGrammar(CODEC, 2.0, None, programs=(33, DRUMS))
    grammar.reset(1)
    mask = grammar.allowed()[0]
    layout = CODEC.layout
    assert not mask[layout.note_on_offset : layout.note_on_offset + 128].any()
    assert not mask[layout.velocity_offset : layout.velocity_offset + layout.velocity_bins].any()
    allowed_instruments = mask[CODEC.program_offset :].nonzero().flatten().tolist()
    assert allowed_instruments == [33, CODEC.drum_slot]
    assert grammar.chosen_programs() == ["Electric Bass (finger)", "Drums"]


def test_the_piano_codec_keeps_its_own_grammar() -> None:
    assert type(midi_grammar(MidiCodec(), 2.0, None)) is MidiGrammar
    assert type(midi_grammar(CODEC, 2.0, None)) is MultitrackGrammar
    with pytest.raises(StudioError, match="drop --programs"):
        midi_grammar(MidiCodec(), 2.0, None, programs=(0,))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("temperature", [0.7, 1.0, 1.5])
def test_sampled_pieces_play_only_the_chosen_programs(seed: int, temperature: float) -> None:
    pieces = sample_pieces(
        _model(CODEC, seed), CODEC, 3, SamplingSettings(temperature), seed, seconds=2.0, programs=(0, 33, DRUMS)
    )
    for piece in pieces:
        ids = piece.ids
        _check(CODEC, [*ids, CODEC.eos_id] if ids[-1] != CODEC.eos_id else ids, {0, 33, CODEC.drum_slot})
        _round_trips(CODEC, ids)
        tracks = {(i.program, i.is_drum) for i in piece.midi.instruments}
        assert tracks <= {(0, False), (33, False), (0, True)}
        assert all(i.notes for i in piece.midi.instruments) or len(piece.midi.instruments) == 1
        assert piece.midi.get_end_time() <= 2.0 + 1e-6
        written = pretty_midi.PrettyMIDI(__import__("io").BytesIO(piece.to_midi()))
        assert {(i.program, i.is_drum) for i in written.instruments} == tracks


def test_family_codecs_fold_the_chosen_programs_and_beams_work() -> None:
    pieces = sample_pieces(
        _model(FAMILY),
        FAMILY,
        2,
        SamplingSettings(),
        5,
        seconds=1.5,
        programs=(1, 34),  # a bright piano and a picked bass: the Piano and Bass families
        beam=BeamSettings(2, 2, 3),
    )
    for piece in pieces:
        assert {(i.program, i.is_drum) for i in piece.midi.instruments if i.notes} <= {(0, False), (33, False)}
        _round_trips(FAMILY, piece.ids)


def test_the_same_seed_gives_the_same_band() -> None:
    model = _model(CODEC)
    a = sample_pieces(model, CODEC, 2, SamplingSettings(), 9, seconds=1.0, programs=(0, 40))
    b = sample_pieces(model, CODEC, 2, SamplingSettings(), 9, seconds=1.0, programs=(0, 40))
    assert [p.ids for p in a] == [p.ids for p in b]


def test_program_names_are_read_in_one_place() -> None:
    assert parse_programs("0,33,73") == (0, 33, 73)
    assert parse_programs("piano, bass, flute, drums") == (0, 33, 73, DRUMS)
    assert parse_programs("Acoustic Grand Piano;electric_bass_(pick);strings;128;piano") == (0, 34, 40, DRUMS)
    assert MidiRequest(programs=("violin", 41)).programs == (40, 41)  # type: ignore[arg-type]
    for bad in ("kazoo", "129", "-1", "", "piano,,nope"):
        with pytest.raises(StudioError) as error:
            MidiRequest(programs=bad)  # type: ignore[arg-type]
        assert "\n" not in str(error.value) and "--programs" in str(error.value)


def test_piano_roll_colours_instruments_with_a_legend(tmp_path: Path) -> None:
    import matplotlib.image

    band = pretty_midi.PrettyMIDI()
    for program, is_drum, pitch in ((0, False, 60), (33, False, 40), (0, True, 38)):
        instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
        instrument.notes = [pretty_midi.Note(100, pitch + k % 5, k * 0.25, k * 0.25 + 0.2) for k in range(16)]
        band.instruments.append(instrument)
    render_piano_roll(band, tmp_path / "band.png")
    image = matplotlib.image.imread(str(tmp_path / "band.png"))[..., :3]
    orange = np.sum((image[..., 0] > 0.9) & (image[..., 1] > 0.4) & (image[..., 1] < 0.6) & (image[..., 2] < 0.2))
    green = np.sum((image[..., 1] > 0.55) & (image[..., 0] < 0.3) & (image[..., 2] < 0.3))
    assert orange > 200 and green > 200  # the second and third instruments' colours (tab10)


# --- the command line and the API, on a tiny checkpoint written here --------------------------------------


def _checkpoint(path: Path, codec: MultitrackCodec | MidiCodec) -> Path:
    model = _model(codec)
    torch.save(
        {
            "studio": {"format": FORMAT, "version": __version__, "task": "midi", "codec": codec.to_dict()},
            "hyper_parameters": {"vocab_size": codec.vocab_size, **TINY},
            "state_dict": model.state_dict(),
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def band_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("band")
    env = dict(os.environ, STUDIO_CACHE=str(work / "cache"), OMP_NUM_THREADS="1")
    return {
        "work": work,
        "env": env,
        "band": _checkpoint(work / "band.ckpt", CODEC),
        "piano": _checkpoint(work / "piano.ckpt", MidiCodec()),
    }


def _one_line_error(result, *needles: str) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("studio: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_studio_sample_plays_the_chosen_instruments(band_run: dict) -> None:
    work, env = band_run["work"], band_run["env"]
    args = ["sample", "--ckpt", str(band_run["band"]), "--seconds", "2", "--num_samples", "2"]
    result = run_studio_here([*args, "--programs", "piano,bass,drums", "--out_dir", "out"], work, env)
    assert result.returncode == 0, result.stderr[-3000:]
    mids = sorted((work / "out").rglob("sample_*.mid"))
    assert len(mids) == 2
    for mid in mids:
        written = pretty_midi.PrettyMIDI(str(mid))
        assert {(i.program, i.is_drum) for i in written.instruments} <= {(0, False), (33, False), (0, True)}
        assert mid.with_suffix(".wav").is_file() and mid.with_suffix(".png").is_file()
    # A multi-track primer is encoded with the checkpoint's codec and continued.
    primer = pretty_midi.PrettyMIDI()
    flute = pretty_midi.Instrument(program=73)
    flute.notes = [pretty_midi.Note(80, 72, 0.0, 0.5)]
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 36, 0.0, 0.1)]
    primer.instruments += [flute, drums]
    primer.write(str(work / "primer.mid"))
    result = run_studio_here(
        [*args, "--programs", "bass", "--primer", "primer.mid", "--out_dir", "primed", "--no_render"], work, env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for mid in sorted((work / "primed").rglob("sample_*.mid")):
        tracks = {(i.program, i.is_drum): i.notes for i in pretty_midi.PrettyMIDI(str(mid)).instruments}
        assert set(tracks) <= {(73, False), (0, True), (33, False)}
        assert tracks[(73, False)][0].pitch == 72 and tracks[(0, True)][0].pitch == 36


def test_unknown_instruments_and_piano_models_are_one_line(band_run: dict) -> None:
    work, env = band_run["work"], band_run["env"]
    result = run_studio_here(["sample", "--ckpt", str(band_run["band"]), "--programs", "piano,kazoo"], work, env)
    _one_line_error(result, "kazoo", "--programs")
    result = run_studio_here(["sample", "--ckpt", str(band_run["piano"]), "--programs", "piano"], work, env)
    _one_line_error(result, "drop --programs")


def test_the_api_takes_programs_by_name(band_run: dict) -> None:
    generator = Generator.from_checkpoint(band_run["band"])
    pieces = generator.midi(seconds=1.0, programs=["flute", "drums"], seed=4, num_samples=2)
    for piece in pieces:
        assert {(i.program, i.is_drum) for i in piece.midi.instruments if i.notes} <= {(73, False), (0, True)}
    with pytest.raises(StudioError, match="drop --programs"):
        Generator.from_checkpoint(band_run["piano"]).midi(seconds=1.0, programs=[0])


def test_primer_refusals_name_the_codec_limit(tmp_path: Path) -> None:
    crowded = pretty_midi.PrettyMIDI()
    for program in range(3):
        instrument = pretty_midi.Instrument(program=program * 8)
        instrument.notes = [pretty_midi.Note(80, 60, 0.0, 0.5)]
        crowded.instruments.append(instrument)
    crowded.write(str(tmp_path / "crowded.mid"))
    with pytest.raises(StudioError, match="max_tracks") as error:
        primer_ids(MultitrackCodec(max_tracks=2), str(tmp_path / "crowded.mid"))
    assert "\n" not in str(error.value)
