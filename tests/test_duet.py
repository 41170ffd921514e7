"""The duet's memory: what the model has read is exactly the conversation as heard, cuts included."""

from __future__ import annotations

import pytest
import torch

from studio.errors import StudioError
from studio.generation import Generator
from studio.generation.duet import Duet, DuetSettings


def _duet(seed: int = 1) -> Duet:
    loaded = Generator.from_checkpoint("bach-chorales").loaded
    return Duet(loaded.model, loaded.codec, DuetSettings(answer_seconds=3, seed=seed))


def _phrase(duet: Duet, offset: float) -> float:
    for i, pitch in enumerate((62, 65, 69)):
        duet.press(offset + 0.3 * i, pitch, 70)
        duet.release(offset + 0.3 * i + 0.25, pitch)
    return offset + 0.85


def test_after_a_cut_the_model_has_read_the_heard_part_only() -> None:
    duet = _duet()
    start = _phrase(duet, 0.0) + 0.65
    events = list(duet.answer(start))
    first_on = next(e.time for e in events if e.kind == "on")
    duet.cut(first_on + 0.2)
    codec, layout = duet.codec, duet.codec.layout
    # The conversation: BOS, the phrase, the pause, the answer up to the cut, its sounding notes released.
    times, now = [], 0
    for token in duet.ids[1:]:
        kind, value = layout.classify(token)
        now += value if kind == "TIME_SHIFT" else 0
        times.append(now)
    assert times[-1] * codec.step_seconds == pytest.approx(first_on + 0.2, abs=0.011)
    assert duet.free_from == pytest.approx(first_on + 0.2, abs=0.011)
    # The carried state is the one reading that conversation from scratch gives.
    with torch.no_grad():
        logits, _ = duet.model(torch.tensor([duet.ids]))
    assert torch.allclose(logits[:, -1], duet.logits, atol=1e-5)


def test_a_duet_plays_back_as_two_tracks() -> None:
    duet = _duet()
    end = _phrase(duet, 0.0)
    events = list(duet.answer(end + 0.6))
    score = duet.score()
    person, model = score.instruments
    assert [n.pitch for n in person.notes] == [62, 65, 69] and person.name == "person"
    assert len(model.notes) == sum(e.kind == "on" for e in events) > 0
    assert min(n.start for n in model.notes) >= end + 0.6 - 1e-6


def test_the_density_control_reaches_the_model_of_a_steered_run() -> None:
    from studio.codecs.midi import MidiCodec
    from studio.nets.language_model import LanguageModelNet

    codec = MidiCodec(controls=("density",))
    torch.manual_seed(0)
    net = LanguageModelNet(vocab_size=codec.vocab_size, embedding_dim=8, hidden_size=16, control_dim=codec.control_dim)
    answers = []
    for density in (2.0, 16.0):
        duet = Duet(net, codec, DuetSettings(answer_seconds=2, seed=5, notes_per_second=density))
        answers.append([(e.kind, e.pitch, e.time) for e in duet.answer(_phrase(duet, 0.0) + 0.5)])
    assert answers[0] != answers[1]  # the same seed and phrase, steered apart by the control alone
    with pytest.raises(StudioError, match="without the note-density control"):
        Duet(net, MidiCodec(), DuetSettings(notes_per_second=4.0)).configure(DuetSettings(notes_per_second=4.0))
