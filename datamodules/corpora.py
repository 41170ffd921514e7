"""Text corpora: user files and folders, corpora embedded in installed packages, and opt-in downloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

from datamodules.corpus_reader import SEPARATOR, CorpusSource
from datamodules.remote_files import fetch_once
from studio.downloads import Remote
from studio.errors import StudioError
from studio.io import cache_root

TEXT_SUFFIXES = (".txt", ".text", ".md", ".rst")


def _lady_susan() -> str:
    # Jane Austen's "Lady Susan" (public domain) ships with music21, a required dependency.
    import music21

    path = Path(music21.__file__).parent / "languageExcerpts" / "trainingData" / "en.txt"
    return path.read_text(encoding="utf-8")


def _python_docs() -> str:
    # The language reference's prose topics ship with every CPython.
    import pydoc_data.topics

    return "\n".join(pydoc_data.topics.topics[key] for key in sorted(pydoc_data.topics.topics))


EMBEDDED: dict[str, Callable[[], str]] = {
    "lady_susan": _lady_susan,
    "python_docs": _python_docs,
    "english": lambda: _lady_susan() + "\n\n" + _python_docs(),
}


# A public corpus fetched only when asked for by name; verified by size and, when known, its digests.
RemoteCorpus = Remote

REMOTE: dict[str, Remote] = {
    "tiny_shakespeare": Remote(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt", size=1115394
    ),
}

CORPUS_NAMES = tuple(EMBEDDED) + tuple(REMOTE)


def load_named_corpus(name: str, folder: Optional[Path] = None) -> str:
    """Text of an embedded corpus, or of a remote one (downloaded once into `folder`, by default the cache's corpora/)."""
    source = named_corpus_source(name, folder)
    if source.text is not None:
        return source.text
    return decode_text(source.files[0].read_bytes(), source.files[0], source.encoding)


def named_corpus_source(name: str, folder: Optional[Path] = None) -> CorpusSource:
    """An embedded corpus (its text), or a remote one (its file, downloaded once into `folder`)."""
    if name in EMBEDDED:
        return CorpusSource(name, text=EMBEDDED[name]())
    if name in REMOTE:
        return CorpusSource(name, (download(REMOTE[name], (folder or cache_root() / "corpora") / f"{name}.txt"),))
    raise StudioError(
        f"unknown corpus {name!r}: choose one of {', '.join(CORPUS_NAMES)}, or pass --data.init_args.path FILE_OR_DIR"
    )


def corpus_source(path: Optional[str], corpus: str, encoding: str, folder: Optional[Path] = None) -> CorpusSource:
    """What to read: the files at `path` when given (it wins), else the named `corpus`."""
    if path:
        return CorpusSource(path, tuple(corpus_files(path)), encoding=encoding)
    return named_corpus_source(corpus, folder)


def download(remote: Remote, target: Path) -> Path:
    """Fetch `remote` into `target` once (streamed and verified; other processes wait); later calls reuse the copy."""
    return fetch_once(remote, target, hint="--data.init_args.path")


def corpus_files(path: str) -> list[Path]:
    """The file at `path`, or every text file under the folder `path` (sorted)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise StudioError(
            f"corpus path {path} does not exist: pass an existing file or folder with --data.init_args.path"
        )
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise StudioError(
                f"no text files ({', '.join(TEXT_SUFFIXES)}) under {path}: add some or point --data.init_args.path at a file"
            )
    else:
        files = [root]
    return files


def read_corpus_path(path: str, encoding: str = "utf-8") -> str:
    """Text of a file, or of every text file under a folder (sorted, joined by blank lines); for small corpora."""
    return SEPARATOR.join(decode_text(f.read_bytes(), f, encoding) for f in corpus_files(path))


def decode_text(data: bytes, source: Path, encoding: str) -> str:
    """Decode `data`, turning a decoding failure into a one-line error that names the file and the fix."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise StudioError(
            f"{source} is not valid {encoding} (byte {error.start}): convert it to UTF-8, "
            "or pass --data.init_args.encoding latin-1"
        ) from None
    except LookupError:
        raise StudioError(
            f"unknown text encoding {encoding!r}: pass a Python codec name such as utf-8 or latin-1"
        ) from None
