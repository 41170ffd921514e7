"""The real data that generated samples are compared with: slices of a text, a bounded choice of pieces."""

from __future__ import annotations

from pathlib import Path

from studio.evaluation.against import (
    disjoint_slices,
    reference_midi_statistics,
    reference_slices,
    reference_text,
    round_seed,
    text_against,
)


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


def test_reference_slices_begin_where_generated_texts_do() -> None:
    """With an opening (a generated text's prompt), slices begin with it: line lengths are cut alike."""
    lines = [f"{i:03d}" + "x" * (7 + i % 50) for i in range(400)]  # distinct, unevenly long lines
    text = "\n".join(lines)
    slices = reference_slices(text, samples=12, length=101, seed=3, opening="\n")
    assert len(slices) == 12 and all(len(s) == 101 and s.startswith("\n") for s in slices)
    starts = sorted(text.index(s) for s in slices)
    assert all(b - a >= 101 for a, b in zip(starts, starts[1:]))  # disjoint
    assert slices == reference_slices(text, samples=12, length=101, seed=3, opening="\n")
    # Asked for as many as the text holds, the slices are still disjoint (fewer than end-to-end blocks).
    held = disjoint_slices(text, 101, "\n")
    assert 12 <= held < len(text) // 101
    starts = sorted(text.index(s) for s in reference_slices(text, held, 101, 3, "\n"))
    assert all(b - a >= 101 for a, b in zip(starts, starts[1:]))
    assert disjoint_slices("abcdefghij" * 30, 10) == 30  # no opening: blocks end to end
    # A text without the opening is sliced anywhere, as without one.
    assert reference_slices("abcdefghij" * 30, 5, 10, 0, "\n") == reference_slices("abcdefghij" * 30, 5, 10, 0)


class _Echo:
    """Stands in for a generator: its 'samples' are fixed texts, so only the comparison is tested."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def text(self, length: int, num_samples: int, seed: int, temperature: float, progress: object) -> list[str]:
        return self.texts[:num_samples]


def test_the_yardstick_measures_the_whole_reference_but_known_words_only_across_halves(tmp_path) -> None:
    # First half: short lines of one vocabulary; second half: long lines of another.
    first = "\n".join(["ab cd ef"] * 100) + "\n"
    second = "\n".join(["ghij klmn opqr stuv wxyz ghij klmn opqr stuv"] * 20) + "\n"  # as long as the first
    path = tmp_path / "reference.txt"
    path.write_text(first + second)
    # 8 slices of 200 out of 9 blocks: most of either half is measured.
    found = text_against(_Echo(["ghij klmn\n"] * 8), 8, 200, [path], seed=0)  # type: ignore[arg-type]
    yardstick = found.reference
    # Lengths come from slices of both halves (slices of the first half alone would give 8).
    assert 8 < yardstick["mean_line_length"] < 44
    # Known words: slices of the first half hold none of the second half's words.
    assert yardstick["known_word_share"] == 0.0 and found.generated["known_word_share"] == 1.0


def test_the_reference_text_is_read_up_to_a_limit(tmp_path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("a" * 50)
    second.write_text("b" * 50)
    assert reference_text([first, second], limit=1000) == "a" * 50 + "\n" + "b" * 50
    assert reference_text([first, second], limit=60) == "a" * 50 + "\n" + "b" * 9
    assert reference_text([first, second], limit=20) == "a" * 20


def test_a_large_midi_collection_is_compared_through_a_seeded_choice(tmp_path) -> None:
    paths = [tmp_path / f"missing{i}.mid" for i in range(50)]
    _, skipped = reference_midi_statistics(paths, seed=1, limit=7)  # unreadable files: each is skipped and named
    chosen = [name for name, _ in skipped]
    assert len(chosen) == 7 and chosen == sorted(chosen, key=lambda n: int(Path(n).stem[7:]))
    assert chosen == [name for name, _ in reference_midi_statistics(paths, seed=1, limit=7)[1]]
    assert chosen != [name for name, _ in reference_midi_statistics(paths, seed=2, limit=7)[1]]


def test_each_round_samples_with_its_own_seed_and_the_first_with_the_given_one() -> None:
    assert round_seed(5, 0) == 5 and round_seed(0, 0) == 0
    seeds = {round_seed(seed, index) for seed in range(20) for index in range(1, 20)}
    assert len(seeds) == 20 * 19 and not seeds & set(range(20))  # no round repeats another seed's
    assert round_seed(3, 2) == round_seed(3, 2)
