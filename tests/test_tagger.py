"""SequenceTagger and decoding: padding never leaks, both losses train, CTC decoding and edit distance are right."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from datamodules.speech_batches import collate
from datamodules.synthetic_speech import labelset
from studio.codecs.speech import FeatureSettings, SpeechCodec
from studio.codecs.speech.ctc import collapse, ctc_frames_needed, edit_distance, prefix_beam_search, runs
from studio.errors import StudioError
from studio.generation.tagging import frame_span, phn_text, tag_audio
from studio.generation.tasks import find_task
from studio.models.tagger import SequenceTagger
from studio.nets.tagger import greedy_decode, stack_frames
from studio.nn import RecurrentStack
from studio.nn.padding import run_over_padding

FEATURES, LABELS = 6, 5


@pytest.fixture(autouse=True)
def one_thread() -> object:
    """These models are tiny: threads only add stalls on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _items(lengths: list[int], seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Utterances whose label depends on the features, so a model can learn them."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for n in lengths:
        frame_labels = torch.randint(1, LABELS, (n // 3 + 1,), generator=g).repeat_interleave(3)[:n]
        features = torch.nn.functional.one_hot(frame_labels, FEATURES).float() + 0.1 * torch.randn(
            n, FEATURES, generator=g
        )
        items.append((features, frame_labels, torch.tensor(collapse(frame_labels.tolist()))))
    return items


def _model(**kwargs: object) -> SequenceTagger:
    torch.manual_seed(0)
    args = dict(input_size=FEATURES, num_labels=LABELS, projection_size=16, hidden_size=16, num_layers=2, dropout=0.0)
    return SequenceTagger(**{**args, **kwargs})


@pytest.mark.parametrize("loss", ["framewise", "ctc"])
@pytest.mark.parametrize("subsample", [1, 3])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_padded_batch_gives_each_item_the_loss_and_outputs_it_has_alone(loss: str, subsample: int, cell: str) -> None:
    model = _model(loss=loss, subsample=subsample, cell=cell).eval()
    items = _items([31, 12, 20])
    with torch.no_grad():
        batch_losses, batch_weights, batch_logits, out_lengths = model.item_losses(collate(items))
        for i, item in enumerate(items):
            alone_loss, alone_weight, alone_logits, alone_len = model.item_losses(collate([item]))
            assert int(out_lengths[i]) == int(alone_len[0]) == math.ceil(len(item[0]) / subsample)
            torch.testing.assert_close(batch_losses[i], alone_loss[0], rtol=1e-5, atol=1e-5)
            assert batch_weights[i] == alone_weight[0]
            n = int(alone_len[0])
            torch.testing.assert_close(batch_logits[i, :n], alone_logits[0, :n], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_running_over_padding_matches_the_packed_stack_in_outputs_and_gradients(cell: str) -> None:
    torch.manual_seed(0)
    stack = RecurrentStack(5, 7, num_layers=3, cell=cell, bidirectional=True)
    x = torch.randn(4, 12, 5)
    lengths = torch.tensor([12, 5, 9, 1])
    packed, _ = stack(x, lengths=lengths)
    mine = run_over_padding(stack, x, lengths)
    torch.testing.assert_close(mine, packed, rtol=1e-5, atol=1e-6)  # padding steps are zero in both
    probe = torch.randn_like(packed)
    for weight in (stack.rnn.weight_ih_l0, stack.rnn.weight_hh_l1_reverse, stack.rnn.bias_ih_l2_reverse):
        grad_packed = torch.autograd.grad((packed * probe).sum(), weight, retain_graph=True)[0]
        grad_mine = torch.autograd.grad((mine * probe).sum(), weight, retain_graph=True)[0]
        torch.testing.assert_close(grad_mine, grad_packed, rtol=1e-4, atol=1e-6)


def test_padding_frames_do_not_change_the_loss_even_when_their_values_are_huge() -> None:
    model = _model(loss="framewise").eval()
    batch = collate(_items([25, 9]))
    noisy = batch._replace(inputs=batch.inputs.clone())
    noisy.inputs[1, 9:] = 1e4  # garbage where item 1 is padding
    with torch.no_grad():
        torch.testing.assert_close(model.item_losses(batch)[0], model.item_losses(noisy)[0])


@pytest.mark.parametrize("loss", ["framewise", "ctc"])
def test_a_tiny_overfit_drives_the_loss_down(loss: str) -> None:
    model = _model(loss=loss)
    batch = collate(_items([30, 24, 18, 27], seed=1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    history = []
    for _ in range(150 if loss == "ctc" else 60):  # CTC first learns to emit blanks, then the labels
        losses, weights, _, _ = model.item_losses(batch)
        loss_value = losses.sum() / weights.sum()
        optimizer.zero_grad()
        loss_value.backward()
        optimizer.step()
        history.append(loss_value.item())
    assert all(math.isfinite(v) for v in history)
    assert history[-1] < 0.3 * history[0], history[::15]
    model.eval()
    with torch.no_grad():
        _, _, logits, lengths = model.item_losses(batch)
    decoded = model.decode_logits(logits, lengths)
    references = [row[: int(n)].tolist() for row, n in zip(batch.targets, batch.target_lengths)]
    errors = sum(edit_distance(r, h) for r, h in zip(references, decoded)) / sum(map(len, references))
    assert errors < 0.25, (decoded, references)


def test_token_inputs_use_an_embedding_and_train() -> None:
    model = _model(input_kind="tokens", input_size=LABELS, loss="framewise")
    items = [(labels, labels, torch.tensor(collapse(labels.tolist()))) for _, labels, _ in _items([15, 10])]
    batch = collate([(f.float()[:, None], labels_, t) for f, labels_, t in items])
    batch = batch._replace(inputs=batch.inputs[..., 0].long())  # token ids [B, T]
    first = None
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(30):
        losses, weights, _, _ = model.item_losses(batch)
        value = losses.sum() / weights.sum()
        first = value.item() if first is None else first
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    assert value.item() < 0.3 * first


def test_stack_frames_concatenates_neighbours_and_shrinks_lengths() -> None:
    x = torch.arange(2 * 5 * 2, dtype=torch.float32).view(2, 5, 2)
    stacked, lengths = stack_frames(x, torch.tensor([5, 3]), 2)
    assert stacked.shape == (2, 3, 4) and lengths.tolist() == [3, 2]
    assert stacked[0, 0].tolist() == [0, 1, 2, 3] and stacked[0, 2].tolist() == [8, 9, 0, 0]
    assert stacked[1, 1].tolist() == [14, 15, 0, 0]  # the step past item 1's length is zeroed


def test_frames_needed_follows_ctc_and_subsampling() -> None:
    assert ctc_frames_needed([1, 2, 3]) == 3
    assert ctc_frames_needed([1, 1, 2]) == 4  # a blank between the repeated 1s
    assert ctc_frames_needed([1, 2, 3], subsample=4) == 9  # ceil(9 / 4) = 3 output steps


def test_edit_distance() -> None:
    assert edit_distance([], []) == 0
    assert edit_distance([1, 2, 3], []) == 3
    assert edit_distance([], [4, 5]) == 2
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([1, 2, 3], [1, 4, 3]) == 1
    assert edit_distance([1, 2, 3, 4], [2, 3, 4, 5]) == 2
    assert edit_distance([5, 6, 7], [7, 6, 5]) == 2


def test_collapse_and_runs() -> None:
    path = [0, 3, 3, 0, 0, 3, 2, 2, 0]
    assert collapse(path, blank=0) == [3, 3, 2]
    assert collapse(path) == [0, 3, 0, 3, 2, 0]
    assert runs(path, blank=0) == [(3, 1, 3), (3, 5, 6), (2, 6, 8)]


def _peaked(path: list[int], classes: int = LABELS, sharp: float = 8.0) -> torch.Tensor:
    logits = torch.randn(len(path), classes, generator=torch.Generator().manual_seed(len(path)))
    logits[torch.arange(len(path)), torch.tensor(path)] += sharp
    return logits


def test_greedy_ctc_decode_collapses_and_drops_blanks_within_lengths() -> None:
    a, b = [0, 1, 1, 0, 1, 2, 0], [3, 3, 0, 4, 0, 0, 0]
    logits = torch.stack([_peaked(a), _peaked(b)])
    assert greedy_decode(logits, torch.tensor([7, 4]), blank=0) == [[1, 1, 2], [3, 4]]
    # Framewise decoding never emits the blank class and merges runs.
    assert greedy_decode(logits, torch.tensor([7, 4]), blank=None)[1] == [3, 4]


def test_prefix_beam_search_agrees_with_greedy_on_peaked_distributions() -> None:
    rng = np.random.default_rng(0)
    for trial in range(20):
        path = rng.integers(0, LABELS, size=int(rng.integers(5, 30))).tolist()
        log_probs = _peaked(path).log_softmax(-1)
        greedy = greedy_decode(log_probs[None], torch.tensor([len(path)]), blank=0)[0]
        beam = prefix_beam_search(log_probs.numpy(), beam_width=4)
        assert [label for label, _, _ in beam] == greedy, trial
        # Each label is placed at the step where the greedy path first emits it.
        assert [start for _, start, _ in beam] == [start for _, start, _ in runs(path, blank=0)]


def test_prefix_beam_search_sums_alignments_that_greedy_splits() -> None:
    # Per step: blank 0.6, label 1 0.4. Best path is all blanks (empty, p=0.36), but "1" has
    # total probability 0.4*0.6 + 0.6*0.4 + 0.4*0.4 = 0.64.
    probs = np.array([[0.6, 0.4], [0.6, 0.4]])
    assert greedy_decode(torch.tensor(np.log(probs))[None], torch.tensor([2]), blank=0) == [[]]
    assert [label for label, _, _ in prefix_beam_search(np.log(probs), beam_width=4)] == [1]


def test_wrong_settings_are_one_line_errors() -> None:
    with pytest.raises(StudioError, match="come from the data module"):
        SequenceTagger()
    with pytest.raises(StudioError, match="loss 'mse' is unknown"):
        _model(loss="mse")
    with pytest.raises(StudioError, match="subsample 0 must be a whole number >= 1"):
        _model(subsample=0)
    assert issubclass(SequenceTagger, find_task("tagger").net)  # the old name of the task still finds it


def test_tagged_times_are_seconds_and_phn_rows_count_samples_at_the_clips_own_rate() -> None:
    codec = SpeechCodec(FeatureSettings(), labelset())
    model = SequenceTagger(
        input_size=codec.num_features, num_labels=codec.num_labels, projection_size=8, hidden_size=8, num_layers=1
    ).eval()
    audio = 0.1 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)  # 1 s at 8 kHz, resampled inside
    spans = tag_audio(model, codec, audio, 8000)
    assert spans[0][1] == 0.0 and spans[-1][2] == pytest.approx(1.0)
    assert all(a[2] == b[1] for a, b in zip(spans, spans[1:]))  # framewise runs tile the clip
    rows = [line.split() for line in phn_text(spans, 8000).splitlines()]
    assert rows[0][0] == "0" and rows[-1][1] == "8000"
    # Frame i owns the hop around its window's centre: 25 ms windows, 10 ms hops -> frame 3 is 37.5-47.5 ms.
    assert frame_span(codec, 3, 4) == (0.0375, 0.0475)
