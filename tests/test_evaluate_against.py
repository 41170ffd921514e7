"""The real-text yardstick of generated-against-real text: slices of the reference that do not overlap."""

from __future__ import annotations

from studio.evaluation.against import reference_slices


def test_reference_slices_are_disjoint_blocks_when_the_text_is_long_enough() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(1000))  # every character distinct: overlaps would show
    slices = reference_slices(text, samples=8, length=100, seed=3)
    assert len(slices) == 8 and all(len(s) == 100 for s in slices)
    assert len(set("".join(slices))) == 800  # no character is in two slices
    assert all(text.index(s) % 100 == 0 for s in slices)
    assert slices == reference_slices(text, samples=8, length=100, seed=3)  # seeded
    assert slices != reference_slices(text, samples=8, length=100, seed=4)


def test_reference_slices_of_a_short_text_may_overlap_but_keep_their_length() -> None:
    slices = reference_slices("abcdefghij" * 3, samples=5, length=10, seed=0)
    assert len(slices) == 5 and all(len(s) == 10 for s in slices)
