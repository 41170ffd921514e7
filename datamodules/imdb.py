"""The Large Movie Review Dataset (Maas et al., 2011): 50,000 IMDb reviews, downloaded once when asked for.

`aclImdb_v1.tar.gz` (84 MB) is fetched into the cache, checked against its size and SHA-256 (as
TensorFlow Datasets records them), and unpacked; its `train/` and `test/` folders of `pos/` and `neg/`
reviews are the official split (`train/unsup`, the unlabelled reviews, is left out).
"""

from __future__ import annotations

from pathlib import Path

from datamodules.remote_files import fetch_once, unpack_once
from studio.downloads import Remote, extract_tar

IMDB = Remote(
    "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    size=84125825,
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
)


def imdb_folder(cache: Path, remote: Remote = IMDB) -> Path:
    """The unpacked `aclImdb/` folder, downloaded and unpacked into `cache/datasets/` the first time."""
    folder = cache / "datasets" / "imdb"
    if not (folder / "aclImdb" / "train").is_dir():
        archive = fetch_once(remote, cache / "datasets" / "aclImdb_v1.tar.gz", hint="--data.init_args.path aclImdb/")
        unpack_once(archive, folder, extract_tar)
    return folder / "aclImdb"
