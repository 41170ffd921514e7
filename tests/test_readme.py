"""The README and its guides (docs/*.md) stay true: the Layout names exactly the packages and modules on disk
and the layers import-linter enforces, and every example of the Python API guide runs against a real checkpoint."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile
from tiny_runs import trained

from studio.generation import Generator

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: import-linter's own TOML reader
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUIDES = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))}
EVERYTHING = "\n".join([README, *GUIDES.values()])
PLACEHOLDER = re.compile(r"checkpoints/<run>/(?:last|best)\.ckpt")


def section(title: str) -> str:
    """The text of the `## title` section of the README or of a guide, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", EVERYTHING, re.M | re.S)
    assert match, f"neither the README nor a guide has a '## {title}' section"
    return match.group(1)


def fenced_blocks(text: str, language: str = "") -> list[str]:
    """The bodies of the ```language blocks in `text` (plain ``` blocks for language "")."""
    return re.findall(rf"^```{re.escape(language)}\n(.*?)^```$", text, re.M | re.S)


def layout_paths() -> list[str]:
    """The paths the Layout's tree names, relative to the repository root ("studio/cli/", "studio/io.py", ...).

    Each line is `<indent><name>[, <name>...]  <what it is>`: two spaces of indent per level under
    the folder above, names ending in `/` are folders, and two or more spaces start the description.
    """
    blocks = fenced_blocks(section("Layout"))
    assert blocks, "the Layout section has no ``` block"
    paths: list[str] = []
    parents: list[tuple[int, str]] = []  # (indent, folder path) of the enclosing folders
    for line in blocks[0].splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        parts = re.split(r" {2,}", line.strip(), maxsplit=1)
        assert indent % 2 == 0 and len(parts) == 2, f"Layout line is not '<names>  <description>': {line!r}"
        while parents and parents[-1][0] >= indent:
            parents.pop()
        assert indent == 2 * len(parents), f"Layout line indented deeper than its folder: {line!r}"
        prefix = parents[-1][1] if parents else ""
        for name in parts[0].split(", "):
            assert re.fullmatch(r"[\w.-]+/?", name), f"Layout names {name!r} on {line!r}: not a file or folder name"
            paths.append(prefix + name)
            if name.endswith("/"):
                parents.append((indent, prefix + name))
    return paths


def test_layout_parser_reads_nesting_and_grouped_names() -> None:
    paths = layout_paths()
    assert "studio/" in paths and "studio/cli/commands.py" in paths and "studio/codecs/midi/codec.py" in paths
    assert {"studio/generation/tasks/text.py", "studio/generation/tasks/midi.py"} <= set(paths)  # one line names both
    assert "datamodules/text.py" in paths and "studio/text.py" not in paths


def test_layout_names_only_paths_that_exist() -> None:
    missing = [p for p in layout_paths() if not ((ROOT / p).is_dir() if p.endswith("/") else (ROOT / p).is_file())]
    assert not missing, f"README Layout names paths that do not exist: {missing}"


def test_layout_names_every_package_and_module() -> None:
    named = set(layout_paths())
    on_disk = set()
    for top in ("studio", "datamodules"):
        for path in (ROOT / top).rglob("*.py"):
            relative = path.relative_to(ROOT)
            # A package is named by its folder; its __init__.py goes with it.
            on_disk.add(f"{relative.parent}/" if path.name == "__init__.py" else str(relative))
    assert on_disk, "found no modules"
    unnamed = sorted(on_disk - named)
    assert not unnamed, f"README Layout does not name: {unnamed}"


def test_layout_states_the_layers_import_linter_enforces() -> None:
    match = re.search(r"^Layers, top to bottom: (.*?)\.\n", section("Layout"), re.M | re.S)
    assert match, "the Layout section has no 'Layers, top to bottom: ...' sentence"
    stated = re.findall(r"`([^`]+)`", match.group(1))
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    assert stated == layers


def test_readme_promises_only_commands_that_exist() -> None:
    from studio.cli.commands import COMMANDS

    assert not re.search(r"\bpredict\b", EVERYTHING) and "predict" not in COMMANDS
    for name in re.findall(r"\bstudio (\w+) --", EVERYTHING):
        assert name in COMMANDS, f"the README or a guide runs `studio {name}`, which is not a command"


def test_the_readme_links_every_guide_and_every_link_leads_somewhere() -> None:
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", README))
    assert linked == set(GUIDES), (linked, set(GUIDES))
    assert len(README.splitlines()) < 150  # a first screen, not the reference
    for name, text in GUIDES.items():
        for target in re.findall(r"\]\(([^)#:]+)\)", text):
            assert (ROOT / "docs" / target).resolve().exists(), f"docs/{name} links to {target}, which is not there"


# The Python API section's examples, run for real against the tiny checkpoints of tests/tiny_runs.py.


def api_examples() -> dict[str, str]:
    """The ```python blocks of "Python API", keyed by what each one runs ("text", "midi", "tag", "classify", "tag_text")."""
    blocks = fenced_blocks(section("Python API"), "python")
    found: dict[str, str] = {}
    for block in blocks:
        (task,) = [t for t in ("text", "midi", "tag", "classify") if f".{t}(" in block]
        task = "tag_text" if task == "tag" and ".wav" not in block else task
        assert task not in found, f"two examples of {task}"
        assert "from studio.generation import Generator" in block and "Generator.from_checkpoint(" in block
        assert len(PLACEHOLDER.findall(block)) == 1, block
        found[task] = block
    assert set(found) == {"text", "midi", "tag", "classify", "tag_text"}
    return found


def run_example(task: str, ckpt: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, str]:
    """Exec the README's example of `task` in `cwd` with `ckpt` in place of the placeholder; its names and stdout."""
    code = PLACEHOLDER.sub(str(ckpt), api_examples()[task])
    monkeypatch.chdir(cwd)
    namespace: dict = {"__name__": "__readme__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md (Python API, {task})", "exec"), namespace)
    return namespace, out.getvalue()


@pytest.mark.slow
def test_text_example_prints_continuations_of_its_prompt(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trained("text", tmp_path_factory)
    namespace, printed = run_example("text", run["ckpt"], tmp_path, monkeypatch)
    texts = namespace["texts"]
    assert len(texts) == 2 and texts[0] != texts[1]
    for text in texts:
        assert text.startswith("The ") and len(text) > len("The ") + 100
        assert text in printed


@pytest.mark.slow
def test_midi_example_writes_midi_wav_and_piano_roll_files(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trained("midi", tmp_path_factory)
    namespace, _ = run_example("midi", run["ckpt"], tmp_path, monkeypatch)
    pieces = namespace["pieces"]
    assert len(pieces) == 2
    for i, piece in enumerate(pieces, 1):
        mid, wav, png = (tmp_path / f"piece_{i}{suffix}" for suffix in (".mid", ".wav", ".png"))
        assert mid.read_bytes() == piece.to_midi()
        score = pretty_midi.PrettyMIDI(str(mid))
        assert sum(len(inst.notes) for inst in score.instruments) == piece.notes > 0
        audio, sr = soundfile.read(str(wav))
        assert sr > 0 and abs(len(audio) / sr - piece.seconds) < 3 and np.abs(audio).max() > 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000


@pytest.mark.slow
def test_tag_example_labels_a_wav(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trained("tagger", tmp_path_factory)
    clip = tmp_path / "clip.wav"
    clip.write_bytes((run["work"] / "corpus" / "FS000" / "U000.wav").read_bytes())
    namespace, printed = run_example("tag", run["ckpt"], tmp_path, monkeypatch)
    spans = namespace["spans"]
    labels = set(Generator.from_checkpoint(run["ckpt"]).loaded.codec.labels.labels)
    assert spans and all(label in labels and 0 <= start <= end for label, start, end in spans)
    duration = soundfile.info(str(clip)).duration
    assert spans[0][1] == 0.0 and abs(spans[-1][2] - duration) < 1e-3  # framewise runs tile the clip
    assert len(printed.splitlines()) == len(spans)


@pytest.mark.slow
def test_classify_example_prints_a_label_and_the_likeliest_classes(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trained("classifier", tmp_path_factory)
    _, printed = run_example("classify", run["ckpt"], tmp_path, monkeypatch)
    lines = printed.splitlines()
    assert len(lines) == 2 and all(line.split()[0] in ("de", "en", "fr", "it", "la", "nl") for line in lines)


@pytest.mark.slow
def test_word_tagging_example_prints_each_word_with_its_tag(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trained("word_tagger", tmp_path_factory)
    _, printed = run_example("tag_text", run["ckpt"], tmp_path, monkeypatch)
    assert printed.startswith("[('I', ") and "('vita', " in printed
