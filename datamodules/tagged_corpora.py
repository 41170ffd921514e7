"""Public word-tagging corpora, downloaded once when asked for, each file checked against its recorded digest.

- `conll2000`: the CoNLL-2000 chunking shared task (WSJ sections 15-18 train, 20 test): a word, its
  part of speech and its chunk tag (B-NP, I-VP, ...) per line; MD5s as torchtext records them.
- `ud_ewt`: Universal Dependencies' English Web Treebank, release 2.10: train, dev and test CoNLL-U
  files with universal part-of-speech tags; sizes and SHA-256 as TensorFlow Datasets records them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from datamodules.remote_files import fetch_once
from studio.downloads import Remote, gunzip
from studio.errors import StudioError

CONLL2000 = "https://www.clips.uantwerpen.be/conll2000/chunking/"
UD_EWT = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/r2.10/"
# name -> [(split, remote file, whether it is gzipped)]
REMOTE: dict[str, list[tuple[str, Remote, bool]]] = {
    "conll2000": [
        (
            "train",
            Remote(CONLL2000 + "train.txt.gz", md5="6969c2903a1f19a83569db643e43dcc8", max_bytes=20 * 1024**2),
            True,
        ),
        (
            "test",
            Remote(CONLL2000 + "test.txt.gz", md5="a916e1c2d83eb3004b38fc6fcd628939", max_bytes=20 * 1024**2),
            True,
        ),
    ],
    "ud_ewt": [
        (
            "train",
            Remote(
                UD_EWT + "en_ewt-ud-train.conllu",
                size=13686411,
                sha256="e6a3784727e7726d4f1c2e10ff22dcd0ddeb8869ad6f85b73bb1ff5ef798e944",
            ),
            False,
        ),
        (
            "val",
            Remote(
                UD_EWT + "en_ewt-ud-dev.conllu",
                size=1738438,
                sha256="ef962ac05d844eaff46eeded125937129bfc0876d43963d66810cb73ffa8f5df",
            ),
            False,
        ),
        (
            "test",
            Remote(
                UD_EWT + "en_ewt-ud-test.conllu",
                size=1738935,
                sha256="465100c5b6fb606725068dc70680d65cc047fbb4ae25195375618bc6353a4e58",
            ),
            False,
        ),
    ],
}


def tagged_files(
    name: str, cache: Path, remotes: Optional[dict[str, list[tuple[str, Remote, bool]]]] = None
) -> list[tuple[Path, str]]:
    """The local files of corpus `name` with their splits, downloaded (and unpacked) into `cache/datasets/` once."""
    table = remotes or REMOTE
    if name not in table:
        raise StudioError(
            f"unknown tagging corpus {name!r}: choose one of {', '.join(table)}, or pass --data.init_args.path"
        )
    folder = cache / "datasets" / name
    found = []
    for split, remote, gzipped in table[name]:
        file = folder / Path(remote.url).name
        fetched = fetch_once(remote, file, hint="--data.init_args.path with the corpus's files")
        found.append((gunzip(fetched, file.with_suffix("")) if gzipped else fetched, split))
    return found
