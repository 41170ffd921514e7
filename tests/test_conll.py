"""CoNLL readers: CoNLL-2000/2003 columns, CoNLL-U treebanks, gzipped files, and one-line errors naming the line."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from studio.codecs.conll import Sentence, read_columns, read_conllu, read_tagged
from studio.errors import StudioError

CONLL2000 = """Confidence NN B-NP
in IN B-PP
the DT B-NP
pound NN I-NP

Chancellor NNP O
"""

CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

-DOCSTART- -X- -X- O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""

CONLLU = """# sent_id = 1
# text = Vámonos al mar.
1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_
1\tVamos\tir\tVERB\tVMM\t_\t0\troot\t_\t_
2\tnos\tnosotros\tPRON\tPP\t_\t1\tobj\t_\t_
3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_
3\ta\ta\tADP\tSPS\t_\t5\tcase\t_\t_
4\tel\tel\tDET\t_\t_\t5\tdet\t_\t_
5\tmar\tmar\tNOUN\tNC\t_\t1\tobl\t_\tSpaceAfter=No
5.1\tvamos\tir\tVERB\t_\t_\t_\t_\t1:conj\t_
6\t.\t.\tPUNCT\tFp\t_\t1\tpunct\t_\t_

# sent_id = 2
1\tSí\tsí\tINTJ\tI\t_\t0\troot\t_\t_
"""


def write(path: Path, text: str) -> Path:
    """Write `text` (UTF-8; gzipped when the name ends in .gz) and return the path."""
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def test_conll2000_chunks(tmp_path: Path) -> None:
    path = write(tmp_path / "train.txt", CONLL2000)
    assert list(read_columns(path)) == [
        Sentence(("Confidence", "in", "the", "pound"), ("B-NP", "B-PP", "B-NP", "I-NP"), "train.txt:1"),
        Sentence(("Chancellor",), ("O",), "train.txt:6"),
    ]
    assert next(read_columns(path, label_column=1)).labels == ("NN", "IN", "DT", "NN")


def test_conll2003_skips_docstart_lines(tmp_path: Path) -> None:
    sentences = list(read_columns(write(tmp_path / "eng.train", CONLL2003)))
    assert [s.words for s in sentences] == [("EU", "rejects", "German"), ("Peter", "Blackburn")]
    assert [s.labels for s in sentences] == [("B-ORG", "O", "B-MISC"), ("B-PER", "I-PER")]
    assert [s.source for s in sentences] == ["eng.train:3", "eng.train:9"]


def test_conllu_skips_multiword_tokens_and_empty_nodes(tmp_path: Path) -> None:
    path = write(tmp_path / "es-ud-dev.conllu", CONLLU)
    first, second = read_conllu(path)
    assert first.words == ("Vamos", "nos", "a", "el", "mar", ".")
    assert first.labels == ("VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT")
    assert (first.source, second.source) == ("es-ud-dev.conllu:1", "es-ud-dev.conllu:13")
    assert next(read_conllu(path, field="xpos")).labels == ("VMM", "PP", "SPS", "_", "NC", "Fp")
    assert next(read_conllu(path, field="deprel")).labels == ("root", "obj", "case", "det", "obl", "punct")


@pytest.mark.parametrize("name, text", [("train.txt.gz", CONLL2000), ("dev.conllu.gz", CONLLU)])
def test_gzipped_files_read_like_plain_ones(tmp_path: Path, name: str, text: str) -> None:
    plain = write(tmp_path / name.removesuffix(".gz"), text)
    gzipped = write(tmp_path / name, text)
    assert [s.words for s in read_tagged(gzipped)] == [s.words for s in read_tagged(plain)]
    assert next(read_tagged(gzipped)).source == f"{name}:1"


def test_read_tagged_passes_options_on(tmp_path: Path) -> None:
    assert next(read_tagged(write(tmp_path / "a.conllu", CONLLU), field="deprel")).labels[0] == "root"
    assert next(read_tagged(write(tmp_path / "a.txt", CONLL2000), label_column=1)).labels[0] == "NN"


def test_latin1_files_read_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("Café NN B-NP\n".encode("latin-1"))
    assert next(read_columns(path, encoding="latin-1")).words == ("Café",)


@pytest.mark.parametrize(
    "name, data, kwargs, message",
    [
        ("ragged.txt", b"a DT B-NP\nb NN\n", {}, r"ragged\.txt:2: ragged line: 2 columns .* line 1 has 3"),
        ("narrow.txt", b"\nword\n", {"label_column": 2}, r"narrow\.txt:2: 1 column\(s\), too few .*label column 2"),
        ("bytes.txt", b"ok DT O\nbad \xff NN O\n", {}, r"bytes\.txt:2: not valid utf-8 \(byte 12\).*encoding latin-1"),
        ("bad.conllu", CONLLU.replace("2\tnos", "x\tnos").encode(), {}, r"bad\.conllu:5: malformed CoNLL-U .*'x'"),
        ("spaces.conllu", b"# sent_id = 1\n1 only-one-space\n", {}, r"spaces\.conllu:2: malformed CoNLL-U"),
        ("bytes.conllu", b"1\tok\t_\tX\n\n1\t\xff\t_\tX\n", {}, r"bytes\.conllu:3: not valid utf-8 \(byte 12\)"),
        ("broken.txt.gz", b"not gzip", {}, r"broken\.txt\.gz is not a valid \.gz file"),
        ("field.conllu", b"", {"field": "lemma"}, r"unknown CoNLL-U label field 'lemma'"),
        ("codec.txt", b"", {"encoding": "klingon"}, r"unknown text encoding 'klingon'"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, name: str, data: bytes, kwargs, message: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(StudioError) as error:
        list(read_tagged(tmp_path / name, **kwargs))
    assert re.search(message, str(error.value)) and "\n" not in str(error.value)


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    for reader in (read_columns, read_conllu):
        with pytest.raises(StudioError, match=r"missing\.txt does not exist") as error:
            list(reader(tmp_path / "missing.txt"))
        assert "\n" not in str(error.value)
