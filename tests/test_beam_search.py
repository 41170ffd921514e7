"""Beam search: well-formed seeded pieces, honest scores, the likeliest candidates kept, argument checks."""

from __future__ import annotations

from typing import Optional

import pytest
import torch
from torch import nn

from studio.codecs.midi import MidiCodec
from studio.errors import StudioError
from studio.generation.beam_search import BeamSettings, beam_search
from studio.generation.midi_grammar import MidiGrammar
from studio.generation.sampling import Constraint, SamplingSettings, filter_logits, generate
from studio.models import RecurrentLanguageModel

CODEC = MidiCodec()


@pytest.fixture(scope="module")
def midi_model() -> RecurrentLanguageModel:
    torch.manual_seed(0)
    return RecurrentLanguageModel(vocab_size=CODEC.vocab_size, embedding_dim=16, hidden_size=32).eval()


@pytest.fixture(scope="module")
def text_model() -> RecurrentLanguageModel:
    torch.manual_seed(1)
    return RecurrentLanguageModel(vocab_size=11, embedding_dim=16, hidden_size=32).eval()


def _log_likelihood(
    model: nn.Module,
    prompt: list[int],
    row: list[int],
    settings: SamplingSettings,
    constraint: Optional[Constraint] = None,
) -> float:
    """The summed log-probability of `row` after `prompt`, from one pass over the whole sequence."""
    with torch.no_grad():
        logits, _ = model(torch.tensor([prompt + row[:-1]]))
    logits = logits[0, len(prompt) - 1 :].float()
    if constraint is not None:
        constraint.reset(1)
        masks = []
        for token in row:
            masks.append(constraint.allowed()[0])
            constraint.update(torch.tensor([token]))
        logits = logits.masked_fill(~torch.stack(masks), float("-inf"))
    log_probs = filter_logits(logits, settings).log_softmax(-1)
    return float(log_probs[torch.arange(len(row)), torch.tensor(row)].double().sum())


def _check_piece(row: list[int], max_seconds: float, max_events: int) -> None:
    """Ends with its only EOS, decodes, and keeps to the grammar's bounds."""
    assert row[-1] == CODEC.eos_id and row.count(CODEC.eos_id) == 1
    assert len(row) <= max_events
    assert CODEC.seconds(row) <= max_seconds + 1e-9
    CODEC.decode(row)


def test_pieces_are_well_formed_and_seeded(midi_model: RecurrentLanguageModel) -> None:
    grammar = MidiGrammar(CODEC, 2.0, 120)
    args = (midi_model, [CODEC.bos_id], 120, 3, SamplingSettings())

    def run(seed: int) -> list[list[int]]:
        return beam_search(*args, seed, grammar, BeamSettings(3, 2, 4)).best()

    a, b, c = run(5), run(5), run(6)
    assert a == b and a != c
    assert len(a) == 3 and len({tuple(row) for row in a}) == 3  # independent pieces, not copies of one beam
    for row in a + c:
        _check_piece(row, 2.0, 120)


def test_scores_are_the_log_likelihoods_and_the_best_candidate_is_returned(midi_model: RecurrentLanguageModel) -> None:
    """Every final candidate's score equals its recomputed likelihood (state and grammar follow the pruning)."""
    primer = [CODEC.layout.velocity_offset + 20, CODEC.layout.note_on_offset + 60, CODEC.layout.shift_offset + 30]
    settings = SamplingSettings(temperature=0.9, top_k=40)
    grammar = MidiGrammar(CODEC, 1.5, 80)
    grammar.prime(primer)
    prompt = [CODEC.bos_id, *primer]
    args = (midi_model, prompt, 80 - len(primer), 2, settings, 3, grammar, BeamSettings(3, 2, 3))
    found = beam_search(*args)
    assert found.scores.shape == found.finished.shape == (2, 6) and bool(found.finished.all())
    for rows, scores in zip(found.rows, found.scores):
        for row, score in zip(rows, scores.tolist()):
            _check_piece(row, 1.5, 80 - len(primer))
            assert _log_likelihood(midi_model, prompt, row, settings, grammar) == pytest.approx(score, abs=1e-3)
    best = beam_search(*args).best()
    assert best == [rows[int(scores.argmax())] for rows, scores in zip(found.rows, found.scores)]


def test_one_iteration_keeps_the_likeliest_of_independent_samples(text_model: RecurrentLanguageModel) -> None:
    """With a single iteration each piece is the best of beam_size * branch_factor plain samples."""
    settings, prompt = SamplingSettings(top_p=0.9), [1, 2, 3]
    pieces = beam_search(text_model, prompt, 12, 3, settings, 4, None, BeamSettings(2, 3, 12)).best()
    samples = generate(text_model, prompt, 12, 3 * 6, settings, 4)  # the same draws, row for row
    likeliest = [
        max(samples[i : i + 6], key=lambda row: _log_likelihood(text_model, prompt, row, settings))
        for i in range(0, 18, 6)
    ]
    assert pieces == likeliest
    assert len({tuple(row) for row in samples[:6]}) == 6  # a real choice was made


def test_beam_size_one_branch_factor_one_is_plain_sampling(
    text_model: RecurrentLanguageModel, midi_model: RecurrentLanguageModel
) -> None:
    plain = beam_search(text_model, [1, 2], 20, 4, SamplingSettings(), 9, None, BeamSettings(1, 1, 3)).best()
    assert plain == generate(text_model, [1, 2], 20, 4, SamplingSettings(), 9)
    grammar = MidiGrammar(CODEC, 1.0, 60)
    pieces = beam_search(
        midi_model, [CODEC.bos_id], 60, 4, SamplingSettings(), 9, grammar, BeamSettings(1, 1, 1)
    ).best()
    assert len(pieces) == 4
    for row in pieces:
        _check_piece(row, 1.0, 60)


class Bigram(nn.Module):
    """A toy model: the next token's distribution is the row of `table` for the current token."""

    def __init__(self, table: list[list[float]]) -> None:
        super().__init__()
        self.log_table = nn.Parameter(torch.tensor(table).log(), requires_grad=False)
        self.calls: list[dict] = []

    def forward(
        self, tokens: torch.Tensor, state: object = None, **kwargs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls.append(kwargs)
        return self.log_table[tokens], torch.zeros(1, tokens.shape[0], 1)


# From 3: 0 is likelier than 1, but only 1 leads on to a likely token: P(1, 1) = 0.388 > P(0, x) = 0.15.
TRAP = [[0.25] * 4, [0.01, 0.97, 0.01, 0.01], [0.25] * 4, [0.6, 0.4, 0.0, 0.0]]


def test_the_beam_keeps_distinct_hypotheses_and_escapes_a_greedy_trap() -> None:
    model = Bigram(TRAP)
    greedy = beam_search(model, [3], 2, 4, SamplingSettings(), 0, None, BeamSettings(1, 8, 1)).best()
    beam = beam_search(model, [3], 2, 4, SamplingSettings(), 0, None, BeamSettings(2, 8, 1)).best()
    assert all(row[0] == 0 for row in greedy)  # one beam commits to the likelier first token
    assert beam == [[1, 1]] * 4  # two distinct beams keep [1] beside [0] and find the likeliest sequence


class StopAtTwo:
    """Any token but 3; a row finishes once it emits 2 and may draw anything afterwards (ignored)."""

    def reset(self, batch_size: int) -> None:
        self.done = torch.zeros(batch_size, dtype=torch.bool)

    def allowed(self) -> torch.Tensor:
        return torch.tensor([True, True, True, False]).expand(len(self.done), -1)

    def update(self, tokens: torch.Tensor) -> None:
        self.done |= tokens == 2

    def finished(self) -> torch.Tensor:
        return self.done.clone()

    def keep(self, rows: torch.Tensor) -> None:
        self.done = self.done[rows]


def test_a_finished_candidate_takes_one_beam_and_wins_with_a_frozen_score() -> None:
    table = [[0.8, 0.1, 0.1, 0.0], [0.1, 0.8, 0.1, 0.0], [1 / 3, 1 / 3, 1 / 3, 0.0], [0.3, 0.2, 0.5, 0.0]]
    found = beam_search(Bigram(table), [3], 6, 2, SamplingSettings(), 1, StopAtTwo(), BeamSettings(2, 4, 1))
    for rows, scores, _finished in zip(found.rows, found.scores, found.finished):
        stopped = [i for i, row in enumerate(rows) if row == [2]]
        assert stopped and all(scores[i] == pytest.approx(torch.tensor(0.5).log().item()) for i in stopped)
        assert len(stopped) < len(rows)  # the other beam went on searching
    assert found.best() == [[2], [2]]


def test_a_finished_candidate_beats_likelier_unfinished_ones_at_the_end() -> None:
    table = [[0.9, 0.05, 0.05, 0.0], [0.9, 0.05, 0.05, 0.0], [1 / 3, 1 / 3, 1 / 3, 0.0], [0.7, 0.1, 0.2, 0.0]]
    found = beam_search(Bigram(table), [3], 3, 2, SamplingSettings(), 0, StopAtTwo(), BeamSettings(2, 4, 1))
    for rows, scores, finished, best in zip(found.rows, found.scores, found.finished, found.best()):
        assert finished.any() and scores[~finished].max() > scores[finished].max()  # the case in question
        assert best == rows[int(scores.masked_fill(~finished, float("-inf")).argmax())] and best[-1] == 2


def test_controls_go_beside_every_step_only_when_given() -> None:
    model = Bigram(TRAP)
    beam_search(model, [3, 0], 3, 2, SamplingSettings(), 0, None, BeamSettings(2, 2, 1))
    assert model.calls and all(call == {} for call in model.calls)
    model.calls.clear()
    beam_search(
        model, [3, 0], 3, 2, SamplingSettings(), 0, None, BeamSettings(2, 2, 1), controls=torch.tensor([0.5, 1.0])
    )
    shapes = [tuple(call["controls"].shape) for call in model.calls]
    assert shapes == [(1, 2, 2)] + [(8, 1, 2)] * 2


@pytest.mark.parametrize(
    "length, num, prompt, beam, branch, steps, flag",
    [
        (0, 1, [1], 1, 1, 1, "length"),
        (5, 0, [1], 1, 1, 1, "num_samples"),
        (5, 1, [], 1, 1, 1, "prompt"),
        (5, 1, [1], 0, 1, 1, "--beam_size"),
        (5, 1, [1], 1, 0, 1, "--branch_factor"),
        (5, 1, [1], 1, 1, 0, "--steps_per_iteration"),
    ],
)
def test_bad_arguments_are_clear_errors(
    text_model: RecurrentLanguageModel,
    length: int,
    num: int,
    prompt: list[int],
    beam: int,
    branch: int,
    steps: int,
    flag: str,
) -> None:
    with pytest.raises(StudioError, match=flag) as error:
        beam_search(text_model, prompt, length, num, SamplingSettings(), 0, None, BeamSettings(beam, branch, steps))
    assert "\n" not in str(error.value)
