"""Corpus statistics and file conversion (library side of `seqlab data stats|convert`)."""

import gzip
import json
from pathlib import Path

import pytest
from rich.console import Console

from seqlab.corpus import convert_file, corpus_stats, render_stats
from seqlab.errors import SeqlabError
from seqlab.formats import Reading, read_corpus
from seqlab.schemes import get_chunks

TRAIN = """\
-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Germany NNP I-NP I-LOC
Britain NNP I-NP B-LOC
and CC O O
Peter NNP I-NP I-PER
"""

DEV = """\
Peter\tB-PER
Smith\tI-PER
visits\tO
Paris\tB-LOC

the\tO
EU\tI-ORG
"""


def read_conll(path):
    return read_corpus(path, Reading(format="conll"))


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    return str(path)


def test_stats_of_two_files(tmp_path):
    train, dev = write(tmp_path, "train.txt", TRAIN), write(tmp_path, "dev.txt", DEV)
    stats = corpus_stats([train, dev])
    json.dumps(stats)  # serialisable as is
    a, b = stats["files"]
    assert (a["sentences"], a["tokens"], a["documents"]) == (3, 11, 2)
    assert (b["sentences"], b["tokens"]) == (2, 6)
    assert stats["total"] == {"sentences": 5, "tokens": 17}
    assert a["scheme"] == "iob1" and b["scheme"] == "iob2"
    assert a["labels"]["O"] == 4 and a["labels"]["I-PER"] == 3
    assert a["entities"] == {"LOC": 2, "MISC": 1, "ORG": 1, "PER": 2}
    assert b["entities"] == {"LOC": 1, "ORG": 1, "PER": 1}
    assert a["length"]["max"] == 5 and a["length"]["min"] == 2 and a["length"]["p50"] == 4
    assert a["longest"] == {"tokens": 5, "line": 3}
    assert a["invalid_transitions"]["count"] == 0
    # 'EU' after 'the' is I-ORG after O: invalid in IOB2, reported with its line
    assert b["invalid_transitions"] == {"count": 1, "lines": [7]}
    assert "oov" not in a
    # dev tokens: Peter, Smith, visits, Paris, the, EU; train knows Peter and EU
    assert b["oov"]["tokens"] == pytest.approx(round(4 / 6, 4))
    assert b["oov"]["types"] == pytest.approx(round(4 / 6, 4))
    assert b["unseen_labels"] == ["B-PER"]
    text = render(stats)
    assert "train.txt" in text and "dev.txt" in text and "PER" in text and "line 7" in text


def render(stats):
    console = Console(record=True, width=200)
    console.print(render_stats(stats))
    return console.export_text()


def test_mixed_schemes_reported(tmp_path):
    path = write(tmp_path, "mixed.txt", "a B-PER\nb E-PER\n\nc S-LOC\n\nd B-LOC\ne L-LOC\nf PER\n")
    f = corpus_stats([path])["files"][0]
    assert f["scheme"] == "iobes"
    assert f["mixed_schemes"]["count"] == 2 and f["mixed_schemes"]["lines"] == [7, 8]
    assert f["mixed_schemes"]["evidence"]["bilou"] == 1
    assert "7, 8" in render(corpus_stats([path]))


def test_stats_of_pos_tags_and_conllu(tmp_path):
    pos = write(tmp_path, "pos.txt", "EU NNP\nrejects VBZ\n\nit PRP\n")
    f = corpus_stats([pos])["files"][0]
    assert f["scheme"] == "plain" and "entities" not in f and f["labels"]["NNP"] == 1
    conllu = write(tmp_path, "x.conllu", "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n")
    stats = corpus_stats([conllu], label_column="xpos")
    assert stats["files"][0]["labels"] == {"UH": 1}
    assert "UH" in render(stats)
    with pytest.raises(SeqlabError, match="must be a number for column files"):
        corpus_stats([pos], label_column="xpos")


def test_stats_errors(tmp_path):
    with pytest.raises(SeqlabError, match=r"nope\.txt: no such file"):
        corpus_stats([str(tmp_path / "nope.txt")])
    with pytest.raises(SeqlabError, match="at least one"):
        corpus_stats([])


def test_convert_to_iobes_and_back_keeps_everything_else(tmp_path):
    src = tmp_path / "train.txt"
    original = TRAIN.replace("\n", "\r\n").replace("Blackburn NNP", "Blackburn\tNNP")
    src.write_bytes(original.encode())
    out = str(tmp_path / "train.iobes")
    assert convert_file(str(src), out, "iobes") == 3
    text = Path(out).read_bytes().decode()
    assert text.startswith("-DOCSTART- -X- -X- O\r\n\r\nEU NNP I-NP S-ORG\r\n")
    assert "Peter NNP I-NP B-PER\r\nBlackburn\tNNP I-NP E-PER\r\n" in text
    assert "Germany NNP I-NP S-LOC\r\nBritain NNP I-NP S-LOC\r\n" in text
    assert text.count("\r\n") == original.count("\r\n")
    back = str(tmp_path / "back.txt")
    assert convert_file(out, back, "iob1", source="iobes") == 3
    assert Path(back).read_bytes() == original.encode()
    # to IOB2 (gzipped); chunks agree with the input's
    gz = str(tmp_path / "train.bio.gz")
    convert_file(str(src), gz, "bio")
    for a, b in zip(read_conll(src), read_conll(gz)):
        assert get_chunks(a.labels) == get_chunks(b.labels)
        assert a.rows[0][:3] == b.rows[0][:3]
    assert read_conll(gz)[0].labels == ["B-ORG", "O", "B-MISC", "O", "O"]


def test_convert_repairs_invalid_sequences(tmp_path):
    src = write(tmp_path, "dev.txt", DEV)
    dst = str(tmp_path / "dev.iobes")
    convert_file(src, dst, "iobes", source="iob2")
    assert [s.labels for s in read_conll(dst)] == [["B-PER", "E-PER", "O", "S-LOC"], ["O", "S-ORG"]]


def test_convert_refusals(tmp_path):
    src = write(tmp_path, "train.txt", TRAIN)
    with pytest.raises(SeqlabError, match="is the input file"):
        convert_file(src, src, "iobes")
    with pytest.raises(SeqlabError, match="is the input file"):
        convert_file(src, str(tmp_path / "." / "train.txt"), "iobes")
    existing = write(tmp_path, "exists.txt", "x")
    with pytest.raises(SeqlabError, match="already exists"):
        convert_file(src, existing, "iobes")
    assert convert_file(src, existing, "iobes", force=True) == 3
    with pytest.raises(SeqlabError, match="unknown tag scheme"):
        convert_file(src, str(tmp_path / "o1.txt"), "xyz")
    with pytest.raises(SeqlabError, match="cannot convert to plain"):
        convert_file(src, str(tmp_path / "o2.txt"), "plain")
    pos = write(tmp_path, "pos.txt", "EU NNP\n")
    with pytest.raises(SeqlabError, match="plain token classes"):
        convert_file(pos, str(tmp_path / "o3.txt"), "iobes")
    bad = write(tmp_path, "bad.txt", "EU B-ORG\nsays S-X\n")
    with pytest.raises(SeqlabError, match=r"bad\.txt:2: label 'S-X' does not fit the iob2 scheme"):
        convert_file(bad, str(tmp_path / "o4.txt"), "iobes", source="iob2")
    conllu = write(tmp_path, "x.conllu", "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n")
    with pytest.raises(SeqlabError, match="not CoNLL-U"):
        convert_file(conllu, str(tmp_path / "o5.txt"), "iobes")
    assert not (tmp_path / "o4.txt").exists()
