"""Statistics of music and text on hand-made inputs whose values are known, and the mgeval comparison."""

from __future__ import annotations

import math

import numpy as np
import pretty_midi
import pytest

from studio.codecs.midi import statistics as ms
from studio.codecs.text_statistics import (
    char_ngram_kl,
    distinct_n,
    known_word_share,
    line_length_distance,
    mean_line_length,
    mean_word_length,
    word_length_distance,
)
from studio.evaluation.compare import compare, intra_set_distances


def _piece(notes: list[tuple[int, float, float]], velocity: int = 80) -> pretty_midi.PrettyMIDI:
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(velocity, pitch, start, end) for pitch, start, end in notes]
    pm.instruments.append(piano)
    return pm


C_MAJOR_SCALE = _piece([(p, i * 0.5, i * 0.5 + 0.5) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])])
HELD_CHORD = _piece([(60, 0.0, 2.0), (64, 0.0, 2.0), (67, 0.0, 2.0)])


def test_a_c_major_scale() -> None:
    stats = ms.piece_statistics(C_MAJOR_SCALE)
    assert stats["scale_consistency"] == 1.0
    assert stats["pitch_classes_used"] == 7 and stats["pitches_used"] == 8
    assert stats["pitch_range"] == 12
    assert stats["polyphony"] == pytest.approx(1.0)
    assert stats["notes_per_second"] == pytest.approx(8 / 4.0)
    assert stats["inter_onset_interval"] == pytest.approx(0.5) and stats["note_length"] == pytest.approx(0.5)
    assert stats["velocity"] == 80 and stats["empty_beat_rate"] == 0.0
    histogram = stats["pitch_class_histogram"]
    assert histogram[0] == pytest.approx(2 / 8) and histogram[1] == 0 and histogram.sum() == pytest.approx(1)
    expected = -(6 * (1 / 8) * math.log2(1 / 8) + (2 / 8) * math.log2(2 / 8))
    assert stats["pitch_class_entropy"] == pytest.approx(expected)
    transitions = stats["pitch_class_transitions"].reshape(12, 12)
    assert transitions[0, 2] == pytest.approx(1 / 7) and transitions[11, 0] == pytest.approx(1 / 7)


def test_a_held_chord_and_a_chromatic_cluster() -> None:
    chord = ms.piece_statistics(HELD_CHORD)
    assert chord["polyphony"] == pytest.approx(3.0)
    assert chord["inter_onset_interval"] == 0.0 and chord["pitch_class_entropy"] == pytest.approx(math.log2(3))
    chromatic = _piece([(60 + k, k * 0.25, k * 0.25 + 0.25) for k in range(12)])
    assert ms.scale_consistency(ms.pitched_notes(chromatic)) == pytest.approx(7 / 12)
    assert ms.pitch_class_entropy(ms.pitched_notes(chromatic)) == pytest.approx(math.log2(12))


def test_silence_counts_as_empty_beats() -> None:
    # A note in beat 0, nothing in beats 1-2, a note in beat 3 (beats of 0.5 s).
    gaps = ms.pitched_notes(_piece([(60, 0.0, 0.4), (62, 1.6, 1.9)]))
    assert ms.empty_beat_rate(gaps) == pytest.approx(2 / 4)
    assert ms.polyphony(gaps) == pytest.approx(1.0)


def test_an_empty_piece_has_zeros_not_errors() -> None:
    stats = ms.piece_statistics(pretty_midi.PrettyMIDI())
    assert all(np.all(np.asarray(v) == 0) for v in stats.values())


def test_alike_sets_overlap_more_than_different_ones() -> None:
    rng = np.random.default_rng(0)
    reference = list(rng.normal(5.0, 1.0, 40))
    alike = compare(list(rng.normal(5.0, 1.0, 40)), reference)
    apart = compare(list(rng.normal(12.0, 1.0, 40)), reference)
    assert alike.overlap > 0.6 > apart.overlap
    assert apart.kl_divergence > alike.kl_divergence
    assert alike.reference_mean == pytest.approx(np.mean(np.abs(reference)))
    vectors = [np.eye(3)[i % 3] for i in range(4)]
    root2 = math.sqrt(2)
    assert intra_set_distances(vectors).tolist() == pytest.approx([root2, root2, 0.0, root2, root2, root2])
    with pytest.raises(ValueError):
        compare([1.0], reference)


def test_the_reference_spread_is_the_yardstick_and_a_collapsed_set_shows_on_its_own_side() -> None:
    rng = np.random.default_rng(1)
    reference = list(rng.normal(5.0, 1.0, 40))
    collapsed = list(5.0 + rng.normal(0.0, 1e-3, 40))  # every member at the data's typical value
    spread_off = list(rng.normal(6.5, 1.0, 40))
    at_mean, off = compare(collapsed, reference), compare(spread_off, reference)
    # Seen from the reference, the collapsed set sits where the data is; the shifted one does not.
    assert at_mean.overlap > off.overlap and at_mean.overlap > 0.6
    # Its own members lie far closer to each other than to the reference: the generated side says so.
    assert at_mean.generated_overlap < 0.2 < off.generated_overlap


def test_text_statistics_on_known_text() -> None:
    reference = "the cat sat on the mat\nthe dog sat on the log\n"
    assert known_word_share(["the cat sat", "a zebra"], reference) == pytest.approx(3 / 5)
    assert distinct_n(["a b a b"], 1) == pytest.approx(2 / 4) and distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert distinct_n(["a b c d"], 4) == 1.0
    assert char_ngram_kl([reference], reference) == pytest.approx(0.0, abs=1e-12)
    assert char_ngram_kl(["zzzzzzzz"], reference) > char_ngram_kl(["the cat sat"], reference) > 0
    assert mean_word_length(["ab abcd"]) == 3.0 and mean_line_length(["abc\n\nabcde\n"]) == 4.0


def test_length_distributions_on_known_text() -> None:
    # Words of 1, 2 and 3 letters against words of 1 letter: two thirds of the mass must move.
    assert word_length_distance(["a bb ccc"], "a b c d") == pytest.approx(2 / 3)
    assert word_length_distance(["a bb ccc"], "ccc a bb") == 0.0
    # Lines of 5 and 25 characters against lines of 5 characters (bins of ten): half must move.
    five, twenty_five = "x" * 5, "y" * 25
    assert line_length_distance([f"{five}\n{twenty_five}\n"], f"{five}\n{five}\n") == pytest.approx(0.5)
    assert line_length_distance([f"{twenty_five}\n"], "z" * 29) == 0.0
    assert word_length_distance([""], "a") == 1.0  # nothing to compare: as far as can be
