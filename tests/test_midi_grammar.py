"""MidiGrammar: random walks through allowed() always give well-formed, cleanly ended MIDI of the asked length."""

from __future__ import annotations

import pytest
import torch

from studio.codecs.midi import MidiCodec
from studio.errors import StudioError
from studio.generation.midi_grammar import MidiGrammar

CODEC = MidiCodec()
STEP = CODEC.step_seconds


_TYPES = [slice(0, 3), slice(3, 131), slice(131, 259), slice(259, 359), slice(359, 391)]


def _uniform_by_type(mask: torch.Tensor) -> torch.Tensor:
    """Weights that pick an allowed event type uniformly, then an allowed token of it uniformly."""
    weights = torch.zeros(mask.shape)
    for part in _TYPES:
        block = mask[:, part].float()
        weights[:, part] = block / block.sum(1, keepdim=True).clamp(min=1)
    return weights


def _walk(grammar: MidiGrammar, batch: int, seed: int, max_steps: int = 5000) -> list[list[int]]:
    """Sample at random among allowed tokens until every sample is finished; return tokens up to EOS."""
    gen = torch.Generator().manual_seed(seed)
    grammar.reset(batch)
    emitted = []
    for _ in range(max_steps):
        if grammar.finished().all():
            break
        mask = grammar.allowed()
        assert mask.shape == (batch, CODEC.vocab_size) and mask.dtype == torch.bool
        assert mask.any(1).all()
        assert not mask[:, CODEC.pad_id].any() and not mask[:, CODEC.bos_id].any()
        choice = torch.multinomial(_uniform_by_type(mask), 1, generator=gen).squeeze(1)
        assert mask[torch.arange(batch), choice].all()
        emitted.append(choice)
        grammar.update(choice)
    else:
        raise AssertionError("the grammar never let every sample finish")
    rows = torch.stack(emitted, 1).tolist()
    return [row[: row.index(CODEC.eos_id) + 1] if CODEC.eos_id in row else row for row in rows]


def _check_well_formed(ids: list[int]) -> None:
    """Every NOTE_OFF closes a sounding note, and nothing sounds when EOS (the last token) comes."""
    sounding: set[int] = set()
    for token in ids:
        kind, value = CODEC.layout.classify(token)
        if kind == "NOTE_OFF":
            assert value in sounding, "NOTE_OFF for a silent pitch"
            sounding.remove(value)
        elif kind == "NOTE_ON":
            sounding.add(value)
    assert ids[-1] == CODEC.eos_id and ids.count(CODEC.eos_id) == 1
    assert not sounding, "notes still sounding at EOS"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_seconds,max_events", [(2.0, None), (2.0, 150), (None, 120)])
def test_random_walks_obey_the_grammar(seed: int, max_seconds, max_events) -> None:
    grammar = MidiGrammar(CODEC, max_seconds=max_seconds, max_events=max_events)
    samples = _walk(grammar, batch=8, seed=seed)
    assert grammar.finished().all()
    for ids in samples:
        _check_well_formed(ids)
        notes = CODEC.decode(ids).instruments[0].notes
        assert notes, "a random walk of this length plays at least one note"
        if max_seconds is not None:
            assert CODEC.seconds(ids) <= max_seconds + 1e-9
            assert max(n.end for n in notes) <= max_seconds + 1e-9
        if max_events is not None:
            assert len(ids) <= max_events


def test_targets_are_actually_reached() -> None:
    grammar = MidiGrammar(CODEC, max_seconds=1.5, max_events=None)
    for ids in _walk(grammar, batch=8, seed=5):
        assert CODEC.seconds(ids) == pytest.approx(1.5)
    grammar = MidiGrammar(CODEC, max_seconds=None, max_events=80)
    for ids in _walk(grammar, batch=8, seed=6):
        # Room is kept to close every note, so the walk uses the whole budget or stops just short of it.
        assert len(ids) == 80


def _feed(grammar: MidiGrammar, tokens: list[int]) -> None:
    for token in tokens:
        grammar.update(torch.tensor([token]))


def test_the_end_releases_notes_then_eos_then_finishes() -> None:
    grammar = MidiGrammar(CODEC, max_seconds=0.5, max_events=None)
    grammar.reset(2)
    layout = CODEC.layout
    grammar.update(torch.tensor([layout.note_on(60), layout.note_on(40)]))
    grammar.update(torch.tensor([layout.note_on(64), layout.shift(50)]))
    grammar.update(torch.tensor([layout.shift(50), layout.note_off(40)]))
    mask = grammar.allowed()
    assert mask[0].nonzero().flatten().tolist() == [layout.note_off(60), layout.note_off(64)]
    assert mask[1].nonzero().flatten().tolist() == [CODEC.eos_id]
    assert not mask[0, layout.shift(1)] and not mask[0, layout.note_on(70)]
    grammar.update(torch.tensor([layout.note_off(60), CODEC.eos_id]))
    assert grammar.finished().tolist() == [False, True]
    grammar.update(torch.tensor([layout.note_off(64), layout.note_on(70)]))  # row 1's token is ignored
    assert grammar.allowed()[0].nonzero().flatten().tolist() == [CODEC.eos_id]
    grammar.update(torch.tensor([CODEC.eos_id, CODEC.eos_id]))
    assert grammar.finished().all()


def test_a_velocity_is_followed_by_a_note_on() -> None:
    grammar = MidiGrammar(CODEC, max_seconds=2.0, max_events=None)
    grammar.reset(1)
    grammar.update(torch.tensor([CODEC.layout.velocity(10)]))
    allowed = set(grammar.allowed()[0].nonzero().flatten().tolist())
    assert allowed == {CODEC.layout.note_on(p) for p in range(128)}


def test_prime_makes_every_reset_continue_the_primer() -> None:
    layout = CODEC.layout
    primer = [layout.velocity(20), layout.note_on(60), layout.shift(40), layout.note_on(64), layout.shift(30)]
    grammar = MidiGrammar(CODEC, max_seconds=1.0, max_events=20)
    grammar.prime(primer)
    grammar.reset(3)
    mask = grammar.allowed()
    assert grammar.now.tolist() == [70, 70, 70] and grammar.count.tolist() == [5, 5, 5]
    # Both primed notes sound, so either may be released, in every row.
    assert mask[:, layout.note_off(60)].all() and mask[:, layout.note_off(64)].all()
    grammar.update(torch.tensor([layout.note_off(60)] * 3))
    assert not grammar.allowed()[:, layout.note_off(60)].any() and grammar.allowed()[:, layout.note_off(64)].all()
    # Only 0.3 s are left of the 1 s target, counted from the primer's start.
    assert grammar.allowed()[0, layout.shift(20)] and not grammar.allowed()[0, layout.shift(31)]
    for row in _walk(grammar, 3, seed=0):  # _walk resets: the primer is replayed, then walked to the end
        _check_well_formed(primer + row)
        assert len(primer) + len(row) <= 20
    untimed = MidiGrammar(CODEC, max_seconds=1.0, max_events=None)
    untimed.prime(primer)
    for row in _walk(untimed, 3, seed=1):
        _check_well_formed(primer + row)
        assert CODEC.seconds(primer + row) == pytest.approx(1.0)  # the target counts the primer's time
    with pytest.raises(StudioError, match="primer"):
        grammar.prime([CODEC.eos_id])
