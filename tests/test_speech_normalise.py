"""Feature normalisation: global CMVN summed in a stream over the training split, carried by the codec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from speech_support import tiny_corpus, tiny_data

from datamodules.speech_store import utterance_key
from studio.codecs import codec_from_dict
from studio.codecs.speech import extract, read_audio
from studio.codecs.speech.ngram import LabelNgram
from studio.codecs.speech.normalise import GlobalCMVN, Moments
from studio.errors import StudioError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_corpus(tmp_path_factory.mktemp("speech"))


def test_streamed_moments_equal_the_statistics_of_all_frames_at_once() -> None:
    rng = np.random.default_rng(0)
    blocks = [rng.normal(3.0, 2.0, size=(int(rng.integers(0, 40)), 5)) for _ in range(30)]
    moments = Moments()
    for block in blocks:
        moments.add(block)
    stats = moments.result()
    every = np.concatenate(blocks)
    np.testing.assert_allclose(stats.mean, every.mean(0), rtol=1e-10)
    np.testing.assert_allclose(stats.std, every.std(0), rtol=1e-10)
    normalised = stats.apply(every.astype(np.float32))
    np.testing.assert_allclose(normalised.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(normalised.std(0), 1, atol=1e-4)
    with pytest.raises(StudioError, match="no training frames"):
        Moments().result()
    with pytest.raises(StudioError, match="damaged"):
        GlobalCMVN.from_dict({"mean": [0.0, 1.0], "std": [1.0]})


def test_global_cmvn_uses_the_training_frames_only_and_travels_in_the_codec(corpus: Path, tmp_path: Path) -> None:
    data = tiny_data(corpus, tmp_path / "cache", cmvn="global")
    data.prepare_store()
    assert not data.settings.cmvn  # the store keeps unnormalised frames
    train = [extract(*read_audio(u.audio), data.settings) for u in data.utterances("train")]
    held = [extract(*read_audio(u.audio), data.settings) for u in data.utterances("val")]
    every = np.concatenate(train).astype(np.float64)
    stats = data.codec.global_cmvn
    assert stats is not None
    np.testing.assert_allclose(stats.mean, every.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats.std, every.std(0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(stats.mean, np.concatenate(train + held).mean(0), atol=1e-4)  # val frames left out
    # Every split's items are normalised by those statistics, and so is new audio through the stored codec.
    data.setup()
    first = data.dataset("val")[0][0].numpy()
    entry = data.dataset("val").entries[0]
    raw = np.asarray(data.store().item(int(entry))[0])
    np.testing.assert_allclose(first, stats.apply(raw), atol=1e-6)
    codec = codec_from_dict(data.codec.to_dict())
    clip = data.utterances("test")[0].audio
    np.testing.assert_allclose(
        codec.encode_audio(*read_audio(clip)), stats.apply(extract(*read_audio(clip), data.settings))
    )
    # Summed once: a second data module on the same store reads the cached statistics.
    again = tiny_data(corpus, tmp_path / "cache", cmvn="global")
    assert again.codec.global_cmvn == stats
    assert len(list((tmp_path / "cache" / "speech_cmvn").iterdir())) == 1


def test_cmvn_modes_and_bad_values(corpus: Path, tmp_path: Path) -> None:
    assert (
        tiny_data(corpus, tmp_path, cmvn=True).settings.cmvn
        and tiny_data(corpus, tmp_path, cmvn="utterance").settings.cmvn
    )
    none = tiny_data(corpus, tmp_path, cmvn="none")
    assert (
        not none.settings.cmvn
        and none.codec.global_cmvn is None
        and not tiny_data(corpus, tmp_path, cmvn=False).settings.cmvn
    )
    with pytest.raises(StudioError, match="--data.init_args.cmvn 'speaker' is unknown"):
        tiny_data(corpus, tmp_path, cmvn="speaker")


def test_the_label_n_gram_counts_the_training_transcripts_only(corpus: Path, tmp_path: Path) -> None:
    data = tiny_data(corpus, tmp_path / "cache", lm_order=2, speed_perturb=[0.9])
    lm = data.codec.lm
    assert lm is not None and lm.order == 2
    store = data.store()
    train = [store.labels_of(store.index[k]).tolist() for k in map(utterance_key, data.utterances("train"))]
    # One count per label and one per end, of each training utterance once (not its speed copies).
    assert sum(lm.counts.values()) == sum(len(ids) + 1 for ids in train)
    assert lm.to_dict() == LabelNgram.counted(train, 2, len(data.labels)).to_dict()
    assert tiny_data(corpus, tmp_path / "cache").codec.lm is None  # off by default
    with pytest.raises(StudioError, match="lm_order 9"):
        tiny_data(corpus, tmp_path, lm_order=9)
