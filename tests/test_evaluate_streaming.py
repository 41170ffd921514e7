"""Held-out likelihood read in pieces: the same numbers as reading whole, in memory that does not grow."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import studio.evaluation.likelihood as likelihood
from studio.codecs.text import TextCodec
from studio.models import RecurrentLanguageModel

TEXT = "Lady Susan wrote:\r\n\tMy dear Alicia,\n  Ünïcode too.\n\n" * 60


def _model(vocab: int) -> RecurrentLanguageModel:
    torch.manual_seed(0)
    return RecurrentLanguageModel(vocab_size=vocab, embedding_dim=8, hidden_size=16, num_layers=2).double().eval()


def test_a_stream_scored_in_pieces_scores_as_one_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(20)
    ids = torch.randint(0, 20, (700,), generator=torch.Generator().manual_seed(1)).tolist()
    monkeypatch.setattr(likelihood, "CHUNK", 64)
    whole = likelihood.sequence_nll(model, ids)
    cuts = [0, 1, 2, 300, 301, 650, 700]
    nats, scored = likelihood.stream_nll(model, [ids[a:b] for a, b in zip(cuts, cuts[1:])] + [[]])
    assert scored == 699
    assert nats == pytest.approx(whole, rel=1e-12)  # the same chunks, so the same sums


@pytest.mark.parametrize("level", ["char", "bpe"])
def test_a_text_file_read_in_pieces_scores_as_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str
) -> None:
    path = tmp_path / "held_out.txt"
    path.write_text(TEXT, encoding="utf-8", newline="")
    codec = TextCodec.train([TEXT.replace("\r\n", "\n")], level=level, vocab_size=300)
    model = _model(codec.vocab_size)
    ids = codec.encode(path.read_text(encoding="utf-8"))
    monkeypatch.setattr(likelihood, "TEXT_PIECE", 97)  # many pieces, cut at safe points
    seen: list[tuple[float, int]] = []
    found = likelihood.text_likelihood(model, codec, [path], lambda fraction, done: seen.append((fraction, done)))
    assert found.tokens == len(ids) - 1
    assert found.nats == pytest.approx(
        likelihood.sequence_nll(model, ids), rel=1e-12
    )  # the same chunks, so the same sums
    fractions = [fraction for fraction, _ in seen]
    assert len(seen) > 10 and fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0, abs=0.02)


def test_an_undecodable_file_is_skipped_and_named(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("abc abc abc\n")
    bad.write_bytes(b"abc \xff\xfe abc")
    codec = TextCodec.train(["abc \n"])
    found = likelihood.text_likelihood(_model(codec.vocab_size), codec, [good, bad])
    assert found.files == [str(good)] and found.skipped == [(str(bad), "UnicodeDecodeError")]
