"""SpecAugment: the masks it draws (count, width, value), training split only, reproducible for a seed, and batches still train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules import synthetic_speech
from datamodules.speech import SpeechDataModule
from datamodules.speech_augment import SpecAugment
from datamodules.speech_store import utterance_key
from studio.errors import StudioError
from studio.models.tagger import SequenceTagger

MASKS = {"freq_masks": 2, "freq_width": 8, "time_masks": 2, "time_width": 20}


def _runs(mask: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a boolean vector."""
    edges = np.diff(np.concatenate(([0], mask.astype(int), [0])))
    return (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).tolist()


def test_masks_have_the_count_width_and_value_asked_for_in_every_feature_block() -> None:
    augment = SpecAugment(freq_masks=2, freq_width=8, time_masks=2, time_width=20, value=-3.0)
    rng = np.random.default_rng(0)
    widest_bands = widest_frames = 0
    for _ in range(200):
        clean = np.random.default_rng(1).standard_normal((300, 3 * 40)).astype(np.float32) + 10
        masked = augment(clean.copy(), rng, blocks=3)
        hit = masked != clean
        assert (masked[hit] == -3.0).all()  # every changed value is the mask value
        frames = hit.all(axis=1)  # a time mask covers the whole frame
        bands = hit[~frames].all(axis=0) if (~frames).any() else np.zeros(120, dtype=bool)
        assert (hit == (frames[:, None] | bands[None, :])).all()  # nothing but whole frames and whole bands
        blocks = bands.reshape(3, 40)
        assert (blocks == blocks[0]).all()  # the same mel bands in the static, delta and delta-delta blocks
        assert blocks[0].sum() <= 16 and len(_runs(blocks[0])) <= 2
        assert frames.sum() <= 40 and len(_runs(frames)) <= 2
        widest_bands = max(widest_bands, max(_runs(blocks[0]), default=0))
        widest_frames = max(widest_frames, max(_runs(frames), default=0))
    assert 8 <= widest_bands <= 16 and 20 <= widest_frames <= 40  # widths reach their maximum (two may touch)


def test_time_masks_are_capped_to_a_fifth_of_a_short_utterance_and_off_does_nothing() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        time_mask, band_mask = SpecAugment(time_masks=1, time_width=100).draw(30, 40, rng)
        assert time_mask.sum() <= 6 and not band_mask.any()
    clean = np.ones((30, 40), dtype=np.float32)
    assert not SpecAugment().active and (SpecAugment()(clean.copy(), rng) == clean).all()
    with pytest.raises(StudioError, match="freq_masks must be >= 0"):
        SpecAugment(freq_masks=-1)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_speech.generate(
        tmp_path_factory.mktemp("speech") / "corpus", n_speakers=4, utts_per_speaker=3, seed=3
    )


def _data(corpus: Path, cache: Path, **kwargs: object) -> SpeechDataModule:
    data = SpeechDataModule(
        root=str(corpus), cache_dir=str(cache), batch_size=4, val_fraction=0.25, test_fraction=0.25, seed=0, **kwargs
    )
    data.setup("fit")
    return data


def test_only_training_items_are_masked_and_the_store_keeps_clean_features(corpus: Path, tmp_path: Path) -> None:
    data = _data(corpus, tmp_path / "cache", **MASKS)
    store = data.store()
    train = data.dataset("train")
    before = [store.item(int(entry))[0] for entry in train.entries]
    masked_any = False
    for index in range(len(train)):
        features = train[index][0].numpy()
        clean = store.item(int(train.entries[index]))[0]
        changed = features != clean
        assert (features[changed] == 0).all()
        masked_any |= bool(changed.any())
    assert masked_any
    assert all((store.item(int(e))[0] == b).all() for e, b in zip(train.entries, before))  # the store stays clean
    for split in ("val", "test"):
        dataset = data.dataset(split)
        assert dataset.augment is None
        for index in range(len(dataset)):
            assert (dataset[index][0].numpy() == store.item(int(dataset.entries[index]))[0]).all()
    assert data.dataset("train").augment is not None
    assert _data(corpus, tmp_path / "cache").dataset("train").augment is None  # off by default


def test_training_batches_are_the_same_for_a_seed_and_differ_between_epochs(corpus: Path, tmp_path: Path) -> None:
    def epochs(data: SpeechDataModule) -> list[list[torch.Tensor]]:
        loader = data.train_dataloader()
        return [[batch.inputs for batch in loader] for _ in range(2)]

    first = epochs(_data(corpus, tmp_path / "cache", **MASKS))
    again = epochs(_data(corpus, tmp_path / "cache", **MASKS))
    for a, b in zip(first, again):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(first[0], first[1]))  # new masks each epoch
    other = epochs(_other(corpus, tmp_path))
    assert not all(torch.equal(x, y) for x, y in zip(first[0], other[0]))


def _other(corpus: Path, tmp_path: Path) -> SpeechDataModule:
    """The same corpus split, masks from another seed: the seed decides the masks."""
    data = _data(corpus, tmp_path / "cache", **MASKS)
    train = data.dataset("train")
    train.seed, train._rng = 1, np.random.default_rng(1)
    return data


def test_a_masked_batch_still_trains(corpus: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    data = _data(corpus, tmp_path / "cache", **MASKS)
    model = SequenceTagger(**data.model_dims(), loss="ctc", hidden_size=16, projection_size=16, num_layers=1)
    data.configure_for_model(dict(model.hparams))
    data.setup("fit")
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    batch = next(iter(data.train_dataloader()))
    losses = []
    for _ in range(5):
        step_losses, weights, _, _ = model.item_losses(batch)
        loss = step_losses.sum() / weights.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_speed_perturbation_adds_resampled_training_copies_once_and_leaves_val_and_test_alone(
    corpus: Path, tmp_path: Path
) -> None:
    plain = _data(corpus, tmp_path / "cache")
    data = _data(corpus, tmp_path / "cache", speed_perturb=[0.9, 1.1])
    train = plain.utterances("train")
    copies = data.speed_copies()
    assert len(copies) == 2 * len(train) and len(data.dataset("train")) == 3 * len(plain.dataset("train"))
    for split in ("val", "test"):
        assert len(data.dataset(split)) == len(plain.dataset(split))
    lengths = dict(zip((utterance_key(u) for u in train), plain.dataset("train").lengths))
    store = data.store()
    for index, utt in enumerate(train):
        slow, fast = copies[2 * index], copies[2 * index + 1]
        assert slow.labels == fast.labels == utt.labels and slow.speaker == utt.speaker
        assert utt.segments and slow.segments and slow.segments[-1][1] == pytest.approx(utt.segments[-1][1] / 0.9)
        frames = [int(store.lengths[store.index[utterance_key(u)]]) for u in (slow, fast)]
        original = lengths[utterance_key(utt)]
        assert frames[0] == pytest.approx(original / 0.9, abs=2) and frames[1] == pytest.approx(original / 1.1, abs=2)
    stamps = [c.audio.stat().st_mtime_ns for c in copies]
    again = _data(corpus, tmp_path / "cache", speed_perturb=[0.9, 1.1])
    assert [c.audio.stat().st_mtime_ns for c in again.speed_copies()] == stamps  # written once
    with pytest.raises(StudioError, match="speed_perturb 1.0 must be"):
        SpeechDataModule(speed_perturb=[1.0])


def test_masks_in_a_loader_worker_are_the_same_for_a_seed(corpus: Path, tmp_path: Path) -> None:
    def first_epoch() -> list[torch.Tensor]:
        data = _data(corpus, tmp_path / "cache", num_workers=1, **MASKS)
        return [batch.inputs for batch in data.train_dataloader()]

    first, again = first_epoch(), first_epoch()
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    clean = [batch.inputs for batch in _data(corpus, tmp_path / "cache", num_workers=1).train_dataloader()]
    assert not all(torch.equal(x, y) for x, y in zip(first, clean))  # masked in the worker too
