"""A table of bad inputs to every command: each ends in one `studio: error:` line and exit status 2 (or, where
the input is merely unusual, in a sensible result), with no traceback, nothing new left behind and every
earlier file byte-identical. Runs the real command in-process."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
from pathlib import Path

import pytest
import torch
from bad_checkpoints import write_bad_checkpoints
from conftest import TINY_MIDI_FIT, TINY_TEXT_FIT, assert_one_line_error, run_studio_here
from multitrack_bad_files import write_unusual_band_files
from tiny_runs import trained

pytestmark = pytest.mark.slow

NOT_A_GPU = "cuda" if not torch.cuda.is_available() else "cuda:99"
TOO_MANY_CPUS = str((os.cpu_count() or 1) + 1)
CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# (id, command with {placeholders}, words the error line must hold; None: the input is unusual but valid, exit 0)
ROWS: list[tuple[str, str, list[str] | None]] = [
    # --- sample: sampling settings --------------------------------------------------------------
    ("temperature-zero", "sample --ckpt {text} --temperature 0", ["--temperature 0", "> 0"]),
    ("temperature-negative", "sample --ckpt {text} --temperature -1", ["--temperature"]),
    ("temperature-nan", "sample --ckpt {text} --temperature nan", ["--temperature"]),
    ("temperature-inf", "sample --ckpt {text} --temperature inf", ["--temperature"]),
    ("top-p-zero", "sample --ckpt {text} --top_p 0", ["--top_p"]),
    ("top-p-above-one", "sample --ckpt {text} --top_p 1.5", ["--top_p"]),
    ("top-p-nan", "sample --ckpt {text} --top_p nan", ["--top_p"]),
    ("top-k-negative", "sample --ckpt {text} --top_k -1", ["--top_k"]),
    ("length-zero", "sample --ckpt {text} --length 0", ["--length"]),
    ("length-negative", "sample --ckpt {text} --length -5", ["--length"]),
    ("length-not-a-number", "sample --ckpt {text} --length abc", ["--length", "abc"]),
    ("num-samples-zero", "sample --ckpt {text} --num_samples 0", ["--num_samples"]),
    ("num-samples-negative", "sample --ckpt {text} --num_samples -3", ["--num_samples"]),
    ("seed-not-a-number", "sample --ckpt {text} --seed x", ["--seed"]),
    ("unknown-prompt-chars", "sample --ckpt {text} --prompt ☃☃", ["--prompt", "never saw"]),
    ("unknown-flag", "sample --ckpt {text} --colour blue", ["--colour"]),
    ("no-ckpt-flag", "sample --length 5", ["--ckpt"]),
    ("tiny-temperature", "sample --ckpt {text} --length 8 --temperature 1e-300", None),
    ("huge-temperature", "sample --ckpt {text} --length 8 --temperature 1e300", None),
    ("tiny-top-p", "sample --ckpt {text} --length 8 --top_p 1e-300", None),
    ("top-k-beyond-the-vocabulary", "sample --ckpt {text} --length 8 --top_k 100000", None),
    # --- sample: requests too big for memory ------------------------------------------------------
    ("length-beyond-memory", "sample --ckpt {text} --length 1000000000000000", ["memory", "GB"]),
    ("samples-beyond-memory", "sample --ckpt {text} --num_samples 100000000000 --length 500", ["memory", "GB"]),
    ("seconds-beyond-memory", "sample --ckpt {midi} --seconds 1e9", ["memory", "GB"]),
    ("seconds-near-the-float-limit", "sample --ckpt {midi} --seconds 1e308", ["memory", "GB"]),
    ("beam-beyond-memory", "sample --ckpt {midi} --beam_size 100000 --branch_factor 100", ["memory", "GB"]),
    ("pieces-beyond-memory", "sample --ckpt {midi} --num_samples 1000000000 --seconds 30", ["memory", "GB"]),
    ("short-samples-beyond-memory", "sample --ckpt {text} --num_samples 1000000000 --length 10", ["memory", "GB"]),
    ("primer-beyond-any-performance", "sample --ckpt {midi} --primer {hugemidi}", ["--primer", "over the 64 MB"]),
    # --- sample: flags of the other task ----------------------------------------------------------
    ("seconds-on-text", "sample --ckpt {text} --seconds 5", ["--seconds", "MIDI"]),
    ("primer-on-text", "sample --ckpt {text} --primer {song}", ["--primer", "MIDI"]),
    ("beam-on-text", "sample --ckpt {text} --beam_size 2", ["--beam_size", "MIDI"]),
    ("prompt-on-midi", "sample --ckpt {midi} --prompt hello", ["--prompt", "--primer"]),
    ("tagger-to-sample", "sample --ckpt {tagger}", ["speech_tagging checkpoint", "use `studio tag`"]),
    # --- sample: MIDI settings --------------------------------------------------------------------
    ("seconds-zero", "sample --ckpt {midi} --seconds 0", ["--seconds"]),
    ("seconds-negative", "sample --ckpt {midi} --seconds -1", ["--seconds"]),
    ("seconds-nan", "sample --ckpt {midi} --seconds nan", ["--seconds"]),
    ("seconds-inf", "sample --ckpt {midi} --seconds inf", ["--seconds"]),
    ("max-note-zero", "sample --ckpt {midi} --max_note_seconds 0", ["--max_note_seconds"]),
    ("events-too-few", "sample --ckpt {midi} --length 1", ["--length"]),
    ("primer-missing", "sample --ckpt {midi} --primer {tmp}/nope.mid", ["--primer", "does not exist"]),
    ("primer-not-midi", "sample --ckpt {midi} --primer {textfile}", ["--primer", "MIDI"]),
    ("beam-size-zero", "sample --ckpt {midi} --beam_size 0", ["--beam_size"]),
    ("branch-factor-zero", "sample --ckpt {midi} --branch_factor 0", ["--branch_factor"]),
    ("steps-per-iteration-zero", "sample --ckpt {midi} --steps_per_iteration 0", ["--steps_per_iteration"]),
    ("density-without-control", "sample --ckpt {midi} --notes_per_second 6", ["density", "--notes_per_second"]),
    ("histogram-of-eleven", "sample --ckpt {midi} --pitch_class_histogram 1,2,3,4,5,6,7,8,9,10,11", ["12"]),
    # --- sample and evaluate: unusual multi-track files on the bundled ensemble (docs/midi.md) ------------
    ("band-primer-without-notes", "sample {band} --primer {band:empty}", ["--primer", "empty.mid", "no notes"]),
    ("band-primer-of-drums-only", "sample {band} --primer {band:drums}", None),
    (
        "band-primer-of-130-tracks",
        "sample {band} --primer {band:crowd}",
        ["crowd.mid", "128 instruments", "at most 16"],
    ),
    ("band-primer-changing-program-mid-track", "sample {band} --primer {band:change}", None),
    ("band-primer-of-overlapping-notes", "sample {band} --primer {band:overlap}", None),
    ("band-new-part-without-primer", "sample {band} --new_part bass", ["--new_part", "--primer"]),
    ("band-new-part-already-there", "sample {band} --primer {band:change} --new_part cello", ["already has a Cello"]),
    ("band-new-part-over-drums", "sample {band} --primer {band:drums} --new_part flute", None),
    (
        "band-evaluate-without-notes",
        "evaluate --ckpt bach-ensemble --data {band:empty}",
        ["--data", "empty.mid", "no notes"],
    ),
    ("band-evaluate-drums-only", "evaluate --ckpt bach-ensemble --data {band:drums}", None),
    ("band-evaluate-130-tracks", "evaluate --ckpt bach-ensemble --data {band:crowd}", ["crowd.mid", "128 instruments"]),
    ("band-evaluate-program-change-mid-track", "evaluate --ckpt bach-ensemble --data {band:change}", None),
    ("band-evaluate-overlapping-notes", "evaluate --ckpt bach-ensemble --data {band:overlap}", None),
    # --- sample: devices and output folders -------------------------------------------------------
    ("gpu-absent", f"sample --ckpt {{text}} --device {NOT_A_GPU}", ["--device", "cpu"]),
    ("device-unknown", "sample --ckpt {text} --device abacus", ["--device", "abacus"]),
    ("out-dir-inside-a-file", "sample --ckpt {text} --length 5 --out_dir {textfile}/out", ["cannot write"]),
    # --- checkpoints: missing, damaged, foreign, hostile ------------------------------------------
    ("ckpt-missing", "sample --ckpt {tmp}/nope.ckpt", ["does not exist"]),
    ("ckpt-a-folder", "sample --ckpt {bad:a-folder}", ["is a folder"]),
    ("ckpt-empty", "sample --ckpt {bad:empty}", ["cannot be read"]),
    ("ckpt-truncated", "sample --ckpt {bad:truncated}", ["cannot be read"]),
    ("ckpt-text-file", "sample --ckpt {bad:text-file}", ["cannot be read"]),
    ("ckpt-malicious", "sample --ckpt {bad:malicious}", ["refused"]),
    ("ckpt-foreign", "sample --ckpt {bad:foreign}", ["not a Studio checkpoint"]),
    ("ckpt-negative-layers", "sample --ckpt {bad:negative-layers}", ["num_layers"]),
    ("ckpt-unknown-hparam", "sample --ckpt {bad:unknown-hparam}", ["colour"]),
    ("ckpt-string-hidden-size", "sample --ckpt {bad:string-hidden-size}", ["hidden_size"]),
    ("ckpt-huge-hidden-size", "sample --ckpt {bad:huge-hidden-size}", ["does not fit the model"]),
    ("ckpt-hparams-a-list", "sample --ckpt {bad:hparams-a-list}", ["hyper_parameters"]),
    ("ckpt-missing-weight", "sample --ckpt {bad:missing-weight}", ["lacks"]),
    ("ckpt-extra-weight", "sample --ckpt {bad:extra-weight}", ["extra.weight"]),
    ("ckpt-format-a-string", "sample --ckpt {bad:format-a-string}", ["format"]),
    ("ckpt-from-the-future", "sample --ckpt {bad:format-from-the-future}", ["newer", "upgrade"]),
    ("ckpt-task-unknown", "sample --ckpt {bad:task-unknown}", ["painter"]),
    ("ckpt-codec-a-list", "sample --ckpt {bad:codec-a-list}", ["codec"]),
    ("ckpt-codec-without-tokenizer", "sample --ckpt {bad:codec-without-tokenizer}", ["codec is malformed"]),
    ("ckpt-codec-kind-unknown", "sample --ckpt {bad:codec-kind-unknown}", ["smell"]),
    ("ckpt-studio-entry-a-string", "sample --ckpt {bad:studio-entry-a-string}", ["studio entry"]),
    ("ckpt-state-dict-of-strings", "sample --ckpt {bad:state-dict-of-strings}", ["state_dict"]),
    # --- tag --------------------------------------------------------------------------------------
    ("tag-with-a-text-ckpt", "tag --ckpt {text} {wav}", ["text checkpoint", "use `studio sample`"]),
    ("tag-missing-audio", "tag --ckpt {tagger} {tmp}/nope.wav", ["nope.wav"]),
    ("tag-not-audio", "tag --ckpt {tagger} {textfile}", ["notes.txt"]),
    ("tag-beam-zero", "tag --ckpt {tagger} --beam_width 0 {wav}", ["--beam_width"]),
    ("tag-no-files", "tag --ckpt {tagger}", ["INPUT"]),
    ("tag-damaged-ckpt", "tag --ckpt {bad:truncated} {wav}", ["cannot be read"]),
    ("tag-out-dir-inside-a-file", "tag --ckpt {tagger} --out_dir {textfile}/out {wav}", ["cannot write"]),
    ("tag-huge-beam-on-framewise", "tag --ckpt {tagger} --beam_width 1000000 {wav}", None),
    ("tag-audio-beyond-memory", "tag --ckpt {tagger} {hugewav}", ["huge.wav", "memory", "GB", "shorter clips"]),
    # --- fit: settings, files and hardware --------------------------------------------------------
    ("fit-dropout-two", "{fit} --model.init_args.dropout 2", ["--model.init_args.dropout"]),
    ("fit-lr-negative", "{fit} --model.init_args.lr -1", ["--model.init_args.lr"]),
    ("fit-hidden-size-zero", "{fit} --model.init_args.hidden_size 0", ["hidden_size"]),
    ("fit-layers-zero", "{fit} --model.init_args.num_layers 0", ["num_layers"]),
    ("fit-cell-unknown", "{fit} --model.init_args.cell cactus", ["cactus"]),
    ("fit-scheduler-unknown", "{fit} --model.init_args.scheduler wobbly", ["wobbly"]),
    ("fit-hidden-size-a-word", "{fit} --model.init_args.hidden_size abc", ["hidden_size", "abc"]),
    ("fit-unknown-flag", "{fit} --trainer.max_stepz 3", ["max_stepz"]),
    ("fit-yaml-syntax", "{fit} --config {badyaml}", ["bad.yaml", "line", "YAML"]),
    ("fit-config-missing", "{fit} --config {tmp}/nope.yaml", ["nope.yaml", "does not exist"]),
    ("fit-config-unknown-key", "{fit} --config {unknownkey}", ["colour"]),
    ("fit-corpus-missing", "{fit} --data.init_args.path {tmp}/nope.txt", ["nope.txt"]),
    ("fit-val-fraction-two", "{fit} --data.init_args.val_fraction 2", ["val_fraction"]),
    (
        "fit-bpe-vocabulary-negative",
        "{fit} --data.init_args.tokenizer bpe --data.init_args.bpe_vocab_size -1",
        ["BPE vocabulary of -1", "--data.init_args.bpe_vocab_size"],
    ),
    ("fit-too-many-cpu-processes", f"{{fit}} --trainer.accelerator cpu --trainer.devices {TOO_MANY_CPUS}", ["cores"]),
    ("fit-gpu-absent", "{fit} --trainer.accelerator gpu", ["trainer settings were refused"]),
    ("fit-seed-out-of-range", "{fit} --seed_everything -1", ["--seed_everything -1", "0 to 4294967295"]),
    ("fit-nonfinite-limit-zero", "{fit} --nonfinite.max_consecutive 0", ["--nonfinite.max_consecutive 0", ">= 1"]),
    ("fit-checkpoint-minutes-negative", "{fit} --last_checkpoint.every_minutes -1", ["every_minutes -1", ">= 0"]),
    # --- fit: sizes checked against memory before the model or a batch is made ---------------------
    (
        "fit-seq-len-beyond-memory",
        "{fit} --data.init_args.path {bigcorpus} --data.init_args.seq_len 1000000000 --model.init_args.hidden_size 512",
        ["--data.init_args.seq_len", "memory", "GB"],
    ),
    ("fit-hidden-size-beyond-memory", "{fit} --model.init_args.hidden_size 10000000", ["hidden_size", "memory", "GB"]),
    ("fit-midi-window-beyond-memory", "{fitmidi} --data.init_args.window 1000000000", ["window", "memory", "GB"]),
    (
        "fit-workers-beyond-memory",
        "{fitmidi} --data.init_args.num_workers 1000000000",
        ["--data.init_args.num_workers 1000000000", "worker processes", "memory", "GB"],
    ),
    (
        "fit-classify-long-texts-beyond-memory",
        "{fitclassify} --data.init_args.max_len 1000000000 --data.init_args.batch_size 1000000000",
        ["--data.init_args.max_len", "--data.init_args.batch_size", "memory", "GB"],
    ),
    (
        "fit-tag-text-long-sentences-beyond-memory",
        "{fittagtext} --data.init_args.batch_size 1000000000",
        ["training on batches of", "--data.init_args.batch_size", "memory", "GB"],
    ),
    ("fit-resume-missing-file", "{fit} --ckpt_path {tmp}/nope.ckpt", ["nope.ckpt", "does not exist"]),
    ("fit-resume-without-a-run", "{fit} --ckpt_path last --run_name ghost", ["ghost", "nothing to resume"]),
    # --- fit: run names that would be paths (they must stay one folder under checkpoints/) ----------
    ("fit-run-name-a-path", "{fit} --run_name ../../elsewhere/evilrun", ["--run_name", "plain name", "not a path"]),
    ("fit-run-name-absolute", "{fit} --run_name {tmp}/evilrun", ["--run_name", "plain name", "e.g. --run_name"]),
    ("fit-run-name-dot-dot", "{fit} --run_name ..", ["--run_name '..'", "plain name"]),
    ("fit-run-name-backslash", "{fit} --run_name ..\\evilrun", ["--run_name", "/ or \\"]),
    ("fit-run-name-hidden", "{fit} --run_name .hidden", ["--run_name '.hidden'", "starts with '.'"]),
    ("fit-run-name-too-long", "{fit} --run_name " + "r" * 101, ["--run_name", "101 characters"]),
    ("validate-run-name-a-path", "validate --config {config} --run_name ../x {quiet}", ["--run_name '../x'"]),
    # --- resume and evaluation from a run's own config --------------------------------------------
    (
        "resume-mismatched-size",
        "fit --config {config} --model.init_args.hidden_size 64 --ckpt_path {text} {quiet}",
        ["does not fit the model"],
    ),
    ("resume-from-damaged", "fit --config {config} --ckpt_path {bad:truncated} {quiet}", ["cannot be read"]),
    ("resume-from-foreign", "fit --config {config} --ckpt_path {bad:foreign} {quiet}", ["not a Studio checkpoint"]),
    ("resume-from-malicious", "fit --config {config} --ckpt_path {bad:malicious} {quiet}", ["refused"]),
    ("validate-damaged", "validate --config {config} --ckpt_path {bad:truncated} {quiet}", ["cannot be read"]),
    ("validate-mismatched", "validate --config {config} --ckpt_path {bad:missing-weight} {quiet}", ["lacks"]),
    ("test-foreign", "test --config {config} --ckpt_path {bad:foreign} {quiet}", ["not a Studio checkpoint"]),
    ("test-empty", "test --config {config} --ckpt_path {bad:empty} {quiet}", ["cannot be read"]),
    # Another run's checkpoint is scored, and the run folder named (the trained run) keeps its files as they were.
    (
        "test-another-runs-checkpoint",
        "test --config {config} --checkpoint.dirpath {textrun} --ckpt_path {other} {quiet}",
        None,
    ),
    # --- evaluate: sizes and counts that cannot be sensible --------------------------------------
    (
        "evaluate-samples-beyond-memory",
        "evaluate --ckpt {text} --samples 1000000000 --against {textfile}",
        ["--samples", "memory", "GB"],
    ),
    (
        "evaluate-rounds-beyond-sense",
        "evaluate --ckpt {text} --samples 2 --rounds 1000000000 --against {textfile}",
        ["--rounds", "at most"],
    ),
    ("evaluate-midi-beyond-any-performance", "evaluate --ckpt {midi} --data {hugemidi}", ["--data", "over the 64 MB"]),
    # --- the command itself -----------------------------------------------------------------------
    ("unknown-command", "paint --ckpt {text}", ["paint", "sample", "tag"]),
    ("predict-is-not-a-command", "predict --config {config}", ["predict", "fit"]),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path) -> dict[str, str]:
    """Everything the table's placeholders name."""
    runs = {task: trained(task, tmp_path_factory) for task in ("text", "midi", "tagger")}
    extra = tmp_path_factory.mktemp("bad-inputs")
    bad = write_bad_checkpoints(runs["text"]["ckpt"], extra / "bad")
    (extra / "notes.txt").write_text("not audio, not MIDI\n")
    (extra / "bad.yaml").write_text("model:\n  init_args:\n    hidden_size: [1\n")
    (extra / "unknown.yaml").write_text("colour: blue\n")
    corpus = small_corpus.read_text(encoding="utf-8")
    (extra / "big.txt").write_text(corpus * (1_000_000 // len(corpus) + 1), encoding="utf-8")  # 1 MB of text
    other = extra / "elsewhere" / "last.ckpt"  # the text model, as another run's checkpoint
    other.parent.mkdir()
    shutil.copy(runs["text"]["ckpt"], other)
    hugewav = tmp_path_factory.mktemp("huge-audio") / "huge.wav"  # not watched: a digest would read a terabyte
    write_sparse_wav(hugewav, 2**40)
    with open(extra / "huge.mid", "wb") as handle:  # a 100 MB "MIDI file": a header, then holes (no disk space)
        handle.write(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60")
        handle.truncate(100 * 1024**2)
    # Ten texts and ten sentences of 100,000 words each: a batch of them is far beyond any machine's memory.
    words = " ".join(f"w{i % 97}" for i in range(100_000))
    texts = [f'{{"text": "{words}", "label": "{"ab"[i % 2]}"}}\n' for i in range(10)]
    (extra / "long.jsonl").write_text("".join(texts), encoding="utf-8")
    column = "".join(f"w{i % 97} {'BI'[i % 2]}\n" for i in range(100_000))
    (extra / "long.conll").write_text("\n".join([column] * 10), encoding="utf-8")
    quiet = "--trainer.logger false --trainer.enable_progress_bar false --trainer.max_steps 1"
    fit = " ".join(TINY_TEXT_FIT) + f" --data.init_args.path {small_corpus} {quiet}"
    names = {
        "text": str(runs["text"]["ckpt"]),
        "midi": str(runs["midi"]["ckpt"]),
        "tagger": str(runs["tagger"]["ckpt"]),
        "config": str(runs["text"]["ckpt"].parent / "config.yaml"),
        "song": str(next((runs["midi"]["work"] / "songs").glob("*.mid"))),
        "wav": str(next((runs["tagger"]["work"] / "corpus").rglob("*.wav"))),
        "textfile": str(extra / "notes.txt"),
        "badyaml": str(extra / "bad.yaml"),
        "unknownkey": str(extra / "unknown.yaml"),
        "fit": fit,
        "fitmidi": " ".join(TINY_MIDI_FIT) + f" --data.init_args.paths {runs['midi']['work'] / 'songs'} {quiet}",
        "fitclassify": f"fit --config {CONFIGS}/classify/quickstart.yaml --data.init_args.path {extra / 'long.jsonl'} "
        f"--model.init_args.hidden_size 2048 {quiet}",
        "fittagtext": f"fit --config {CONFIGS}/tag_text/quickstart.yaml --data.init_args.path {extra / 'long.conll'} "
        f"--model.init_args.hidden_size 2048 {quiet}",
        "bigcorpus": str(extra / "big.txt"),
        "hugemidi": str(extra / "huge.mid"),
        "hugewav": str(hugewav),
        "textrun": str(runs["text"]["ckpt"].parent),
        "other": str(other),
        "quiet": quiet,
        "band": "--ckpt bach-ensemble --seconds 2 --no_render",
        "cache": str(extra / "cache"),
        "watched": "|".join(str(p) for p in (extra, *(r["ckpt"].parent for r in runs.values()))),
    }
    names.update({f"bad:{name}": str(path) for name, path in bad.items()})
    names.update(write_unusual_band_files(extra / "bands"))
    return names


def write_sparse_wav(path: Path, size: int) -> None:
    """An RF64 WAV (16-bit mono, 16 kHz) of `size` bytes whose samples are holes: years of silence, no disk space."""
    data = size - 80  # the header's length
    header = b"RF64" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE"
    header += struct.pack("<4sIQQQI", b"ds64", 28, size - 8, data, data // 2, 0)  # the 64-bit sizes
    header += struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 16000, 32000, 2, 16)
    header += b"data" + struct.pack("<I", 0xFFFFFFFF)
    with open(path, "wb") as handle:
        handle.write(header)
        handle.truncate(size)


def _fill(template: str, places: dict[str, str], tmp: Path) -> list[str]:
    """The command's words: placeholders replaced (paths here hold no spaces), then split on whitespace."""
    for key, value in {**places, "tmp": str(tmp)}.items():
        template = template.replace("{" + key + "}", value)
    return template.split()


def _snapshot(folders: list[Path]) -> dict[str, str]:
    """Digest of every file under `folders` (their checkpoints, configs and data)."""
    found = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "cache" not in path.relative_to(folder).parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def check_contract(result, tmp: Path, needles: list[str] | None) -> None:
    """The promise for a bad input: one error line, exit 2, no traceback, no file left in the working folder."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if needles is None:
        assert result.returncode == 0, result.stderr[-3000:]
        return
    assert_one_line_error(result, *needles)
    left = [str(p.relative_to(tmp)) for p in tmp.rglob("*")]
    assert left == [], f"files left behind: {left}"


@pytest.mark.parametrize("template, needles", [(t, n) for _, t, n in ROWS], ids=[i for i, _, _ in ROWS])
def test_a_bad_input_ends_in_one_line_and_loses_nothing(
    template: str, needles: list[str] | None, places: dict[str, str], tmp_path: Path
) -> None:
    env = dict(os.environ, STUDIO_CACHE=places["cache"], WANDB_MODE="disabled")
    watched = [Path(p) for p in places["watched"].split("|")]
    before = _snapshot(watched)
    result = run_studio_here(_fill(template, places, tmp_path), tmp_path, env)
    check_contract(result, tmp_path, needles)
    assert _snapshot(watched) == before, "an earlier file changed"
    if needles is None:
        shutil.rmtree(tmp_path / "samples", ignore_errors=True)


def test_the_table_is_large_and_covers_every_command() -> None:
    assert len(ROWS) >= 60
    commands = {t.split()[0].replace("{fit}", "fit") for _, t, _ in ROWS}
    assert {"sample", "tag", "fit", "validate", "test", "evaluate"} <= commands
