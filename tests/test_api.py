"""The Python API and the `studio` command give the same outputs for the same checkpoint, seed and settings.

`studio sample` and `studio tag` are thin shells over `studio.generation.Generator`; these tests hold
them to it: the files the command writes are what the API returns. The checkpoints are the tiny
ones of tests/tiny_runs.py, trained once per session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pretty_midi
import pytest
import soundfile
from conftest import run_studio_here
from midi_songs import write_song
from tiny_runs import trained

from studio.errors import StudioError
from studio.generation import Generator
from studio.generation.tagging import phn_text


def _cli(run: dict, out: Path, *args: str) -> Path:
    """Run `studio ARGS --out_dir out` in the run's folder; the one folder of outputs it made."""
    result = run_studio_here([*args, "--out_dir", str(out)], run["work"], run["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    (folder,) = [p for p in out.glob("*/*") if p.is_dir()]
    assert (folder / "settings.json").is_file()  # written last: the folder is complete
    return folder


def test_a_missing_or_foreign_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    not_a_checkpoint = tmp_path / "notes.ckpt"
    not_a_checkpoint.write_text("not a checkpoint\n")
    for path in (tmp_path / "missing.ckpt", not_a_checkpoint, tmp_path):
        with pytest.raises(StudioError) as caught:
            Generator.from_checkpoint(path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)


@pytest.mark.slow
def test_text_of_the_api_is_what_studio_sample_writes(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    run = trained("text", tmp_path_factory)
    settings = {"prompt": "The ", "length": 80, "num_samples": 3, "temperature": 0.9, "top_k": 12, "top_p": 0.95}
    flags = [f"--{name}={value}" for name, value in settings.items()]
    folder = _cli(run, tmp_path / "cli", "sample", "--ckpt", str(run["ckpt"]), *flags, "--seed", "5")
    written = [(folder / f"sample_{i}.txt").read_text(encoding="utf-8") for i in (1, 2, 3)]
    assert not list(folder.glob("sample_4.txt"))

    gen = Generator.from_checkpoint(run["ckpt"])
    assert gen.task.name == "text"
    texts = gen.text(**settings, seed=5)
    assert texts == written
    assert all(t.startswith("The ") for t in texts) and len(set(texts)) == 3
    assert gen.text(**settings, seed=6) != texts  # the seed matters, so the equality above says something


MIDI_CASES = {
    "plain": ([], {}),
    "beam": (
        ["--beam_size", "2", "--branch_factor", "2", "--steps_per_iteration", "4"],
        {"beam_size": 2, "branch_factor": 2, "steps_per_iteration": 4},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(MIDI_CASES))
def test_midi_of_the_api_is_what_studio_sample_writes(
    case: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("midi", tmp_path_factory)
    flags, beam = MIDI_CASES[case]
    primer = write_song(tmp_path / "intro.mid", seed=11, notes=4)
    common = ["--seconds", "4", "--num_samples", "2", "--temperature", "0.9", "--top_k", "30"]
    cli_args = [*common, "--seed", "3", "--max_note_seconds", "0.5", "--primer", str(primer), *flags]
    folder = _cli(run, tmp_path / "cli", "sample", "--ckpt", str(run["ckpt"]), *cli_args, "--no_render")
    written = [(folder / f"sample_{i}.mid").read_bytes() for i in (1, 2)]

    gen = Generator.from_checkpoint(run["ckpt"])
    assert gen.task.name == "midi"
    pieces = gen.midi(
        seconds=4,
        num_samples=2,
        temperature=0.9,
        top_k=30,
        seed=3,
        max_note_seconds=0.5,
        primer=primer,
        **beam,
    )
    assert [piece.to_midi() for piece in pieces] == written
    for piece, data in zip(pieces, written):
        path = tmp_path / "piece.mid"
        path.write_bytes(data)
        notes = [n for inst in pretty_midi.PrettyMIDI(str(path)).instruments for n in inst.notes]
        assert len(notes) == piece.notes == len(piece.note_list()) > 0
        assert max(n.end - n.start for n in notes) <= 0.5 + 0.005  # trimmed when written (one tick of rounding)
    other = gen.midi(seconds=4, num_samples=2, temperature=0.9, top_k=30, seed=4, max_note_seconds=0.5, **beam)
    assert [p.to_midi() for p in other] != written


@pytest.mark.slow
def test_rendered_audio_of_the_api_is_what_studio_sample_writes(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("midi", tmp_path_factory)
    folder = _cli(run, tmp_path / "cli", "sample", "--ckpt", str(run["ckpt"]), "--seconds", "3", "--seed", "8")
    (piece,) = Generator.from_checkpoint(run["ckpt"]).midi(seconds=3, seed=8)
    assert piece.to_midi() == (folder / "sample_1.mid").read_bytes()
    renderer = piece.render_wav(tmp_path / "api.wav")
    cli_audio, cli_sr = soundfile.read(str(folder / "sample_1.wav"))
    api_audio, api_sr = soundfile.read(str(tmp_path / "api.wav"))
    assert cli_sr == api_sr and len(cli_audio) == len(api_audio) > 0
    if renderer == "builtin":  # FluidSynth may not be bit-exact from run to run
        assert (tmp_path / "api.wav").read_bytes() == (folder / "sample_1.wav").read_bytes()
    assert (folder / "sample_1.png").stat().st_size > 1000


@pytest.mark.slow
def test_labels_of_the_api_are_what_studio_tag_writes(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    run = trained("tagger", tmp_path_factory)
    # Two speakers' U000.wav share a stem: the command writes U000 and U000-2, each still of its own clip.
    clips = sorted((run["work"] / "corpus").glob("*/U00[01].wav"))[:3]
    assert len(clips) == 3 and clips[0].name == clips[2].name
    folder = _cli(run, tmp_path / "cli", "tag", "--ckpt", str(run["ckpt"]), *map(str, clips))
    records = sorted(p for p in folder.glob("*.json") if p.name != "settings.json")
    assert len(records) == 3 and len(list(folder.glob("*.phn"))) == 3

    gen = Generator.from_checkpoint(run["ckpt"])
    assert gen.task.name == "speech_tagging"
    tagged = set()
    for path in records:
        record = json.loads(path.read_text())
        clip = Path(record["audio"])
        spans = gen.tag(clip)
        assert spans and record["labels"] == [{"label": lb, "start": s, "end": e} for lb, s, e in spans]
        assert path.with_suffix(".phn").read_text() == phn_text(spans, record["sample_rate"])
        audio, sr = soundfile.read(str(clip))
        assert gen.tag(audio, sample_rate=sr) == spans  # samples in memory label as the file does
        tagged.add(clip)
    assert tagged == set(clips)


# Each task's method on a checkpoint of another task, with something it would otherwise accept.
WRONG_KIND = [
    ("midi", "text", {"prompt": "The ", "length": 5}),
    ("tagger", "text", {"length": 5}),
    ("text", "midi", {"seconds": 1}),
    ("tagger", "midi", {"seconds": 1}),
    ("text", "tag", {"inputs": "clip.wav"}),
    ("midi", "tag", {"inputs": "clip.wav"}),
]


@pytest.mark.slow
@pytest.mark.parametrize("task, method, kwargs", WRONG_KIND, ids=[f"{m}-on-{t}" for t, m, _ in WRONG_KIND])
def test_asking_a_checkpoint_for_another_task_is_a_one_line_error(
    task: str, method: str, kwargs: dict, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = trained(task, tmp_path_factory)
    gen = Generator.from_checkpoint(run["ckpt"])
    with pytest.raises(StudioError) as caught:
        getattr(gen, method)(**kwargs)
    message = str(caught.value)
    assert "\n" not in message and str(run["ckpt"]) in message
    assert f"is a {gen.task.name} checkpoint" in message and f"`{method}`" in message


@pytest.mark.slow
def test_a_checkpoint_of_another_task_than_the_one_asked_for_is_a_one_line_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    run = trained("text", tmp_path_factory)
    with pytest.raises(StudioError) as caught:
        Generator.from_checkpoint(run["ckpt"], task="tagger")
    assert "\n" not in str(caught.value) and "is a text checkpoint, not a tagger one" in str(caught.value)
