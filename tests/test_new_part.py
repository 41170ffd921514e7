"""A new part under existing ones (--new_part with --primer): the primer's parts come back note for note and the
model writes only the new instrument, sounding with them; the grammar holds for any choice of allowed tokens."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pretty_midi
import pytest
import torch
from conftest import assert_one_line_error, run_studio_here
from multitrack_bands import band

from studio.codecs.midi.multitrack import MultitrackCodec, Track
from studio.errors import StudioError
from studio.generation import Generator
from studio.generation.midi import primer_ids
from studio.generation.new_part import NewPartGrammar, kept_blocks

CLARINET = 71


@pytest.fixture(scope="module")
def ensemble() -> Generator:
    return Generator.from_checkpoint("bach-ensemble")


@pytest.fixture(scope="module")
def trio(ensemble: Generator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six seconds of flute, horn and cello from the bundled ensemble: the parts to write a clarinet under."""
    path = tmp_path_factory.mktemp("trio") / "trio.mid"
    piece = ensemble.midi(seconds=6, seed=4, programs="flute,french horn,cello")[0]
    path.write_bytes(piece.to_midi())
    assert {i.program for i in pretty_midi.PrettyMIDI(str(path)).instruments if i.notes} == {73, 60, 42}
    return path


def _notes(pm: pretty_midi.PrettyMIDI) -> dict[int, list[tuple[int, float, float]]]:
    return {
        i.program: sorted((n.pitch, round(n.start, 2), round(n.end, 2)) for n in i.notes)
        for i in pm.instruments
        if i.notes
    }


def test_the_kept_parts_come_back_note_for_note_under_a_new_clarinet(ensemble: Generator, trio: Path) -> None:
    codec = ensemble.loaded.codec
    given = codec.decode_notes(primer_ids(codec, str(trio)))
    pieces = ensemble.midi(primer=str(trio), new_part="clarinet", seed=0, num_samples=2)
    for piece in pieces:
        got = codec.decode_notes(piece.ids)
        assert {t: got[t] for t in given} == given  # every kept note: pitch, onset, end and velocity
        assert set(got) == set(given) | {Track(CLARINET, False)}  # the model wrote only the clarinet
        kept = _notes(pretty_midi.PrettyMIDI(str(trio)))
        written = _notes(piece.midi)
        assert {p: written[p] for p in kept} == kept  # as written to the .mid, within one 10 ms step
        clarinet = next(i for i in piece.midi.instruments if i.program == CLARINET).notes
        others = [n for i in piece.midi.instruments if i.program != CLARINET for n in i.notes]
        together = [c for c in clarinet if any(c.start < o.end and o.start < c.end for o in others)]
        assert len(together) >= 5  # it plays with the kept parts, not after them
        assert piece.seconds == pytest.approx(codec.seconds(primer_ids(codec, str(trio))), abs=0.02)


def test_the_command_line_writes_the_new_part_beside_the_kept_ones(trio: Path, tmp_path: Path) -> None:
    env = dict(os.environ, WANDB_MODE="disabled")
    words = f"sample --ckpt bach-ensemble --primer {trio} --new_part 71 --no_render --out_dir {tmp_path}".split()
    result = run_studio_here(words, tmp_path, env)
    assert result.returncode == 0, result.stderr[-2000:]
    (mid,) = tmp_path.rglob("sample_1.mid")
    assert set(_notes(pretty_midi.PrettyMIDI(str(mid)))) == {73, 71, 60, 42}


@pytest.mark.parametrize(
    "settings, needles",
    [
        ({"new_part": "clarinet"}, ["--new_part needs --primer"]),
        ({"new_part": "flute", "primer": "{trio}"}, ["already has a Flute part"]),
        ({"new_part": "kazoo", "primer": "{trio}"}, ["--new_part", "unknown instrument 'kazoo'"]),
        ({"new_part": "clarinet", "primer": "{trio}", "beam_size": 2}, ["--new_part", "drop"]),
    ],
)
def test_a_new_part_without_what_it_needs_is_one_line(
    ensemble: Generator, trio: Path, settings: dict, needles: list[str]
) -> None:
    settings = {k: v.replace("{trio}", str(trio)) if isinstance(v, str) else v for k, v in settings.items()}
    with pytest.raises(StudioError) as info:
        ensemble.midi(**settings)
    assert all(n in str(info.value) for n in needles) and "\n" not in str(info.value)


def test_the_command_line_names_a_missing_primer(tmp_path: Path) -> None:
    env = dict(os.environ, WANDB_MODE="disabled")
    result = run_studio_here(["sample", "--ckpt", "bach-ensemble", "--new_part", "bass"], tmp_path, env)
    assert_one_line_error(result, "--new_part", "--primer")


@pytest.mark.parametrize("seed", range(12))
def test_any_choice_of_allowed_tokens_keeps_the_parts_and_ends_cleanly(seed: int) -> None:
    """The grammar alone, driven by random choices among the tokens it allows (a model that knows nothing)."""
    rng = random.Random(seed)
    codec = MultitrackCodec(programs="family" if seed % 3 == 0 else "all")
    parts = []
    for program, is_drum in rng.sample([(0, False), (33, False), (73, False), (0, True), (40, False)], 3):
        starts = sorted(rng.uniform(0, 4) for _ in range(rng.randint(1, 12)))
        notes = [(rng.randint(40, 80), s, s + rng.uniform(0.01, 2.5), rng.randint(1, 127)) for s in starts]
        parts.append((program, is_drum, notes, []))
    kept = codec.encode(band(parts))
    taken = {codec.slot(t.program, t.is_drum) for t in codec.decode_notes(kept)}
    new_slot = rng.choice([s for s in range(codec.drum_slot + 1) if s not in taken])
    probe = NewPartGrammar(codec, kept, new_slot, 0)
    grammar = NewPartGrammar(codec, kept, new_slot, probe.cost[0] + rng.choice([0, 3, 40, 400]))
    grammar.reset(1)
    ids: list[int] = []
    while not bool(grammar.finished()[0]):
        allowed = torch.nonzero(grammar.allowed()[0]).flatten().tolist()
        assert allowed, "an empty row"
        token = rng.choice(allowed)
        grammar.update(torch.tensor([token]))
        ids.append(token)
        assert len(ids) <= grammar.max_events
    assert ids[-1] == codec.eos_id
    snapped = grammar.snapped(ids)
    got = codec.decode_notes(snapped)
    given = codec.decode_notes(kept)
    assert {t: got[t] for t in given} == given
    assert set(got) <= set(given) | {codec.track(new_slot)}
    assert codec.seconds(snapped) == pytest.approx(kept_blocks(codec, kept)[-1][0] * codec.step_seconds)


def test_the_server_takes_a_new_part_with_an_uploaded_primer(trio: Path, tmp_path: Path) -> None:
    """The page's form: the primer as an upload, new_part by name; the pieces keep the upload's parts."""
    from fastapi.testclient import TestClient

    from studio.server.app import create_app

    run = tmp_path / "checkpoints" / "ensemble"
    run.mkdir(parents=True)
    bundle = Path(__file__).resolve().parent.parent / "studio" / "bundles" / "bach-ensemble" / "model.ckpt"
    shutil.copy(bundle, run / "last.ckpt")
    with TestClient(create_app(tmp_path / "checkpoints", tmp_path / "samples")) as client, open(trio, "rb") as f:
        form = {"run": "ensemble", "new_part": "clarinet", "seed": "0"}
        done = client.post("/api/midi", data=form, files={"primer": ("trio.mid", f, "audio/midi")})
    assert done.status_code == 200, done.text
    assert done.json()["settings"]["new_part"] == CLARINET
    (mid,) = (tmp_path / "samples").rglob("sample_1.mid")
    written = _notes(pretty_midi.PrettyMIDI(str(mid)))
    kept = _notes(pretty_midi.PrettyMIDI(str(trio)))
    assert {p: written[p] for p in kept} == kept and CLARINET in written
